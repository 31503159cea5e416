"""``POST /v1/suggest``'s answer: a suggestion's JSON bytes, its shared actions written once.

The engine makes each action without a cost once per playbook snapshot (per rule and
approval) and hands the same object to every suggestion that has it: 56 of the 60 actions
of the example incidents. pydantic-core writes an action in ~11,500 instructions, the same
bytes every time; here they are written once per action object, kept by its identity
(:data:`cxplay._common.models.SHARED_JSON`, which the log's rows share), and spliced into
the rest of the suggestion, which pydantic-core writes without the actions.
``tests/test_serve_answer.py`` holds the bytes equal to :func:`json_bytes`'s.
"""

from __future__ import annotations

from cxplay._common.models import SHARED_JSON, json_bytes, json_serializer, shared_json
from cxplay.results import SuggestedAction, Suggestion

__all__ = ["answer_json"]

#: The fields the rest of the suggestion is written without: a set (pydantic-core takes a
#: frozenset as any iterable, 8,000 instructions more a suggestion); never changed.
_ACTIONS = {"actions"}
#: Where the actions go: before the reply, the field after them (always written, as null
#: when there is none). Every ``"`` inside a string is escaped, so the fields before
#: (the incident's id, ``matched``, the severity) cannot hold this.
_AFTER_ACTIONS = b',"reply":'


def answer_json(suggestion: Suggestion) -> bytes:
    """``json_bytes(suggestion)``: the same bytes, each shared action written once."""
    if type(suggestion) is not Suggestion:
        return json_bytes(suggestion)
    parts = []
    kept = SHARED_JSON  # (the log's rows keep the same actions' JSON there)
    for action in suggestion.actions:
        found = kept.get(id(action))
        if found is not None:
            parts.append(found[1])
            continue
        if type(action) is not SuggestedAction:
            return json_bytes(suggestion)
        # only an action without a cost is the engine's, shared: one with a cost is made
        # per suggestion and would never be met again
        parts.append(shared_json(action) if action.cost is None else json_bytes(action))
    rest = json_serializer(Suggestion).to_json(suggestion, exclude=_ACTIONS)
    head, reply, tail = rest.partition(_AFTER_ACTIONS)
    if not reply:  # (not met: the reply is always written)
        return json_bytes(suggestion)
    return b"".join((head, b',"actions":[', b",".join(parts), b"]", reply, tail))
