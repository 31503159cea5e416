"""The durable_rules backend. This is the only module that imports durable_rules.

It talks to durable's C core directly (``durable_rules_engine``), not through
``durable.engine.Host``: the Host starts two timer threads that dispatch actions in the
background and steal results from synchronous callers, and its Python action plumbing is
3-6x slower and swallows exceptions. Here one evaluation is, per ruleset chunk::

    assert_fact(fact) -> start_action_for_state -> complete_and_start_action ... -> retract_fact

collecting the name of every rule that fired; nothing is left behind in the session.

Sessions: each concurrent evaluation borrows its own session id (``sid``) from a pool,
because a sid shared between threads gives wrong results. The C calls hold the GIL, so the
pool never grows beyond the number of threads evaluating at once. ``delete_state`` is never
called (it crashes on a sid whose first message matched nothing); the sessions go away with
their rulesets, which :meth:`DurableBackend.close` deletes (also on garbage collection).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import weakref
from collections.abc import Mapping
from typing import Any

from cxplay._compiler import ABSENT, ABSENT_HIGH, ABSENT_LOW, ABSENT_NUMBER, Chunk, Program
from cxplay._loader import PlaybookSet
from cxplay.errors import CompileError, CxplayError, Problem

try:  # durable-rules 2.0.28 does not import on Python >= 3.13
    import durable_rules_engine as _engine

    AVAILABLE = True
    UNAVAILABLE_REASON = ""
except ImportError as exc:  # pragma: no cover - depends on the interpreter
    _engine = None
    AVAILABLE = False
    UNAVAILABLE_REASON = f"durable_rules does not import here: {exc}"

__all__ = ["AVAILABLE", "UNAVAILABLE_REASON", "DurableBackend"]

#: durable keeps at most 1,024 live sessions per ruleset; stay well below.
MAX_SESSIONS = 1000

_ids = itertools.count(1)
_prefixes = itertools.count(1)


def _delete_rulesets(handles: list[int]) -> None:
    while handles:
        handle = handles.pop()
        with contextlib.suppress(Exception):
            _engine.delete_ruleset(handle)


def _culprit(chunk: Chunk) -> int:
    """The rule of a refused chunk that durable refuses on its own (else the first)."""
    for position in chunk.rules:
        name = f"{chunk.name}_probe_{position}"
        definition = {f"r{position}": chunk.definition[f"r{position}"]}
        try:
            handle = _engine.create_ruleset(name, json.dumps(definition, ensure_ascii=False))
        except Exception:  # refused alone: this is the rule
            return position
        _engine.delete_ruleset(handle)
    return chunk.rules[0]


class DurableBackend:
    """Evaluate rules with durable_rules' C core, rulesets partitioned and chunked."""

    name = "durable"

    def __init__(self, rules: PlaybookSet, program: Program) -> None:
        if not AVAILABLE:
            raise CxplayError(UNAVAILABLE_REASON)
        self._program = program
        self._handles: list[int] = []
        self._finalizer = weakref.finalize(self, _delete_rulesets, self._handles)
        self._chunk_handles: dict[str, int] = {}
        for chunk in (*program.generic, *(c for cs in program.by_type.values() for c in cs)):
            try:
                handle = _engine.create_ruleset(
                    chunk.name, json.dumps(chunk.definition, ensure_ascii=False)
                )
            except Exception as exc:  # durable_rules_engine.error is a plain Exception
                self.close()
                culprit = rules.rules[_culprit(chunk)]
                raise CompileError(
                    [
                        Problem(
                            f"the rule engine refused this rule: {exc}",
                            file=culprit.playbook.source,
                            line=culprit.when_line or culprit.line,
                            rule=culprit.id,
                            key="when",
                        )
                    ]
                ) from None
            self._handles.append(handle)
            self._chunk_handles[chunk.name] = handle
        self._plan: dict[str, tuple[tuple[int, Chunk], ...]] = {}
        self._free: list[str] = []
        self._sessions = 0
        self._lock = threading.Lock()
        self._available = threading.Condition(self._lock)
        self._strings = program.strings

    # -- sessions ----------------------------------------------------------------------

    def _acquire(self) -> str:
        with self._available:
            while not self._free and self._sessions >= MAX_SESSIONS:
                self._available.wait()
            if self._free:
                return self._free.pop()
            self._sessions += 1
            return f"s{self._sessions}"

    def _release(self, sid: str) -> None:
        with self._available:
            self._free.append(sid)
            self._available.notify()

    # -- evaluation --------------------------------------------------------------------

    def _chunks(self, incident_type: str) -> tuple[tuple[int, Chunk], ...]:
        plan = self._plan.get(incident_type)
        if plan is None:
            plan = tuple(
                (self._chunk_handles[c.name], c) for c in self._program.chunks_for(incident_type)
            )
            if incident_type in self._program.by_type or len(self._plan) < 10_000:
                self._plan[incident_type] = plan
        return plan

    def evaluate(self, incident_type: str, flat: Mapping[str, Any]) -> list[int]:
        """Positions of the rules whose condition holds (unordered, no duplicates)."""
        if not self._handles and self._finalizer.alive is False:
            raise CxplayError("this engine has been closed")
        plan = self._chunks(incident_type)
        if not plan:
            return []
        fired: set[int] = set()
        regexes: dict[int, bool] = {}
        sid = self._acquire()
        try:
            for handle, chunk in plan:
                fact: dict[str, Any] = {"k": 1, "id": next(_ids), "sid": sid}
                for field in chunk.fields:
                    value = flat.get(field.path)
                    if field.variant == "eq":
                        fact[field.key] = self._encode(value, field.kind)
                    elif value is not None:
                        fact[field.key] = float(value)
                    elif field.variant == "high":
                        fact[field.key] = ABSENT_HIGH
                    elif field.variant == "low":
                        fact[field.key] = ABSENT_LOW
                for key, number in chunk.regexes:
                    found = regexes.get(number)
                    if found is None:
                        path, pattern = self._program.regexes[number]
                        value = flat.get(path)
                        found = isinstance(value, str) and pattern.search(value) is not None
                        regexes[number] = found
                    fact[key] = int(found)
                text = json.dumps(fact, ensure_ascii=False)
                try:
                    code, state = _engine.assert_fact(handle, text)
                    if code == 0:
                        message = _engine.start_action_for_state(handle, state)
                        while message:
                            body = message[1] if isinstance(message, tuple) else message
                            # body is '{"r12": {...}}'; the rule's position is the key
                            fired.add(int(body[3 : body.index('"', 3)]))
                            message = _engine.complete_and_start_action(handle, state)
                finally:
                    _engine.retract_fact(handle, text)
        except Exception as exc:
            if isinstance(exc, CxplayError):
                raise
            raise CxplayError(f"the rule engine failed: {exc}") from None
        finally:
            self._release(sid)
        return sorted(fired)

    def _encode(self, value: Any, kind: str) -> Any:
        """A value for equality tests: strings as codes, booleans as 0/1, absent as a sentinel."""
        if value is None:
            return ABSENT_NUMBER if kind == "number" else ABSENT
        if isinstance(value, str):
            return self._strings.get(value, -1)
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int | float):
            return float(value)
        return 1  # lists and datetimes: conditions may only test their presence

    def close(self) -> None:
        """Delete the rulesets (and with them every session)."""
        self._finalizer()
