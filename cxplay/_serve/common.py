"""What the service's modules share, so that none of them imports the app back.

The playbook listing, messages fit for a client, the problem+json response documentation,
the JSON depth check and the no-log error: :mod:`cxplay._serve.app` answers with them, the
console (:mod:`cxplay._serve.console`) builds its form from the listing, the service
(:mod:`cxplay._serve.service`) reports a failed reload with the messages, and the console's
panels and ``/v1/incidents`` (:mod:`~cxplay._serve.context`, :mod:`~cxplay._serve.incidents`)
document their problems with them (``tests/test_layout.py`` looks for import cycles).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cxplay._conditions.parse import leaves, type_constraint
from cxplay._incidents import _too_big
from cxplay._playbooks.loader import PlaybookSet
from cxplay._serve.models import FactInfo, IncidentTypeInfo, PlaybookInfo, PlaybookList
from cxplay.models import CHANNELS, FactSpec, Incident

__all__ = [
    "CONTEXT_PATHS",
    "NoLog",
    "context_paths",
    "incident_json",
    "json_depth_ok",
    "playbook_list",
    "problem_doc",
    "public_text",
]

#: The incident's own fields (not facts) a form asks for when a type's rules or
#: correlations read them: a correlation key the agent must be able to give.
CONTEXT_PATHS = ("order.carrier", "event.id", "event.session", "event.speaker")

# The directories of an absolute path (not of a URL): a client is told a file's name, never
# where the server keeps it.
_DIRECTORIES = re.compile(r"(?<![\w.~:/-])/(?:[^\s/:'\"]+/)+(?=[^\s/:'\"])")


def public_text(line: str, roots: Sequence[Path] = ()) -> str:
    """A message without server paths: relative to a playbook root, else the file's name."""
    for root in roots:
        line = line.replace(f"{root}/", "")
    return _DIRECTORIES.sub("", line)


def _read_paths(playbooks: PlaybookSet) -> dict[str, set[str]]:
    """Per incident type, the fields its rules and its correlations read (conditions, keys)."""
    read: dict[str, set[str]] = {}
    for rule in playbooks.rules:
        paths = {leaf.path for leaf in leaves(rule.condition)}
        for kind in rule.types or ():
            read.setdefault(kind, set()).update(paths)
    for compiled in playbooks.correlations:
        paths = {leaf.path for leaf in leaves(compiled.condition)}
        paths.update(compiled.correlate.key)
        for kind in type_constraint(compiled.condition) or ():
            read.setdefault(kind, set()).update(paths)
    return read


def context_paths(playbooks: PlaybookSet) -> dict[str, list[str]]:
    """Per incident type, the :data:`CONTEXT_PATHS` its rules or correlations read."""
    return {
        kind: [p for p in CONTEXT_PATHS if p in paths]
        for kind, paths in _read_paths(playbooks).items()
    }


def _types(playbooks: PlaybookSet) -> list[IncidentTypeInfo]:
    """Each incident type a rule names, with the facts its rules and correlations read.

    Required facts first; a correlation's key fact (``facts.route``) is read like a
    condition's, so a form asks for it.
    """
    read: dict[str, set[str]] = {
        kind: {path.split(".")[1] for path in paths if path.startswith("facts.")}
        for kind, paths in _read_paths(playbooks).items()
    }
    for name, declared in playbooks.facts.items():
        for kind in declared.required_for:
            read.setdefault(kind, set()).add(name)
    out = []
    for kind in sorted(read):
        infos = []
        for name in sorted(read[kind]):
            spec: FactSpec | None = playbooks.facts.get(name)
            infos.append(
                FactInfo(
                    name=name,
                    type=spec.type if spec else "string",
                    required=bool(spec and kind in spec.required_for),
                    description=spec.description if spec else None,
                )
            )
        infos.sort(key=lambda f: not f.required)
        out.append(IncidentTypeInfo(type=kind, facts=infos))
    return out


def playbook_list(playbooks: PlaybookSet) -> PlaybookList:
    """What ``/v1/playbooks`` answers (and the console's form is built from)."""
    return PlaybookList(
        playbooks=[
            PlaybookInfo(
                id=p.meta.id,
                version=p.meta.version,
                rules=len(p.rules),
                tests=len(p.tests),
                languages=list(p.meta.languages),
                default_language=p.meta.default_language,
                title=p.meta.title,
            )
            for p in playbooks.playbooks
        ],
        types=_types(playbooks),
        channels=list(CHANNELS),
        languages=sorted({lang for p in playbooks.playbooks for lang in p.meta.languages}),
    )


class NoLog(Exception):
    """The service runs without a decision log."""


def problem_doc(description: str) -> dict[str, Any]:
    """An OpenAPI response documented as a problem+json body."""
    return {
        "description": description,
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}
        },
    }


def json_depth_ok(value: Any, limit: int) -> bool:
    """Whether a parsed JSON document nests at most ``limit`` levels (iteratively)."""
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            items: Any = item.values()
        elif isinstance(item, list):
            items = item
        else:
            continue
        if level > limit:
            return False
        stack.extend((child, level + 1) for child in items)
    return True


def incident_json(body: bytes, max_depth: int) -> Incident | None:
    """The incident of a JSON request body, validated by pydantic from its bytes, or None.

    The usual way reads the body into a dict (:func:`cxplay._incidents.parse_incident`),
    checks its depth, and the engine validates the dict into an :class:`Incident`: 134,500
    instructions for an example incident, against 83,400 this way (no dict built to be
    read again, no ``str`` decoded, no flood walk). Only an incident pydantic accepts is
    answered here; None -- the usual way, with its own errors -- for any document this
    cannot vouch for: one the usual way reads with :mod:`json` alone (longer than the
    limit on an integer's digits), one whose brackets could nest deeper than
    ``max_depth``, one with ``NaN`` or ``Infinity`` anywhere (pydantic's parser reads them;
    the usual way refuses them), one the usual way's counts refuse, and any
    that pydantic refuses (a BOM, UTF-8 that is not, an invalid incident). Of a document
    both accept, the model is the same (``tests/test_serve_body_fast.py`` compares both
    ways: every example and case, duplicate keys, escapes, numbers).
    """
    limit = sys.get_int_max_str_digits()
    if (
        (limit and len(body) > limit)
        or body.count(b"{") + body.count(b"[") > max_depth
        or b"NaN" in body
        or b"Infinity" in body
        or _too_big(body) is not None
    ):
        return None
    try:
        model: Incident = Incident.__pydantic_validator__.validate_json(body)
    except Exception:  # whatever it is, the usual way says it as it always has
        return None
    return model
