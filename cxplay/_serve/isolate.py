"""``/v1/validate``'s worker: checks an uploaded playbook set in a process of its own.

An upload is code the service has not seen: a template that passes every static check may
still loop or allocate. So it is validated here, in a child process that limits itself
(CPU seconds and address space, :func:`resource.setrlimit`) before it reads anything, and
that the service kills at the request's deadline. The files come as JSON on stdin, the
:class:`~cxplay._serve.models.ValidateReport` goes out as JSON on stdout.
"""

from __future__ import annotations

import json
import sys

__all__ = ["MEMORY", "main"]

#: The address space the worker may use (bytes): the engine and a playbook set fit in a
#: quarter of it; a template that allocates gigabytes gets MemoryError instead.
MEMORY = 2 << 30


def _limit(cpu_seconds: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def main() -> None:
    """Read ``{"files": ..., "cpu": seconds}``, validate, write the report."""
    request = json.loads(sys.stdin.buffer.read())
    _limit(int(request["cpu"]))
    from cxplay._serve.app import validate_upload

    try:
        report = validate_upload(request["files"])
    except MemoryError:
        sys.stdout.write(json.dumps({"error": "the upload needs more memory than allowed"}))
        return
    sys.stdout.write(report.model_dump_json())


if __name__ == "__main__":
    main()
