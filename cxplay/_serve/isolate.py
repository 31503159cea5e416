"""``/v1/validate``'s worker: checks an uploaded playbook set in a process of its own.

An upload is code the service has not seen: a template that passes every static check may
still loop or allocate. So it is validated here, in a child process that limits itself
(CPU seconds and address space, :func:`resource.setrlimit`) before it reads anything, and
that the service kills at the request's deadline. It imports only what validation needs (not
the web framework), so that it starts in a fraction of the deadline. The files come as JSON
on stdin, the :class:`~cxplay._serve.models.ValidateReport` goes out as JSON on stdout.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from cxplay._common.text import echo
from cxplay._playbooks.lint import validate_playbooks
from cxplay._serve.models import ValidateReport
from cxplay.errors import IncidentError

__all__ = ["MEMORY", "main", "upload_name", "validate_upload"]

#: The address space the worker may use (bytes): the engine and a playbook set fit in a
#: quarter of it; a template that allocates gigabytes gets MemoryError instead.
MEMORY = 2 << 30


def upload_name(name: str) -> PurePosixPath:
    """An upload's file name, checked: ``NAME.toml`` or ``replies/NAME.toml``, plain text."""
    shown = echo(name, 80)
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in name):
        raise IncidentError(f"files: {shown}: a name has no control characters")
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        raise IncidentError(f"files: {shown}: a name is valid Unicode text") from None
    if size > 255:
        raise IncidentError(f"files: {shown}: a name is at most 255 bytes, not {size}")
    path = PurePosixPath(name)
    if (
        path.is_absolute()
        or ".." in path.parts
        or path.suffix != ".toml"
        or len(path.parts) > 2
        or (len(path.parts) == 2 and path.parts[0] != "replies")
        or "\\" in name
    ):
        raise IncidentError(f"files: {shown}: a name is 'NAME.toml' or 'replies/NAME.toml'")
    return path


def validate_upload(files: Mapping[str, str]) -> ValidateReport:
    """Check an uploaded playbook set in a scratch directory, as ``cxplay validate`` does."""
    names = {name: upload_name(name) for name in files}
    with tempfile.TemporaryDirectory(prefix="cxplay-validate-") as scratch:
        root = Path(scratch)
        (root / "replies").mkdir()
        for name, text in files.items():
            (root / names[name]).write_text(text, encoding="utf-8")
        report = validate_playbooks(root)
        prefix = f"{root}/"
        problems = [str(p).replace(prefix, "") for p in report.problems]
    loaded = report.playbooks
    return ValidateReport(
        ok=report.ok,
        problems=problems,
        playbooks=len(loaded.playbooks) if loaded else 0,
        rules=len(loaded.rules) if loaded else 0,
    )


def _limit(cpu_seconds: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def main() -> None:
    """Read ``{"files": ..., "cpu": seconds}``, validate, write the report."""
    request = json.loads(sys.stdin.buffer.read())
    _limit(int(request["cpu"]))
    try:
        report = validate_upload(request["files"])
    except MemoryError:
        sys.stdout.write(json.dumps({"error": "the upload needs more memory than allowed"}))
        return
    sys.stdout.write(report.model_dump_json())


if __name__ == "__main__":
    main()
