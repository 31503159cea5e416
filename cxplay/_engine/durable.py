"""The durable_rules backend. This is the only module that imports durable_rules.

It talks to durable's C core directly (``durable_rules_engine``), not through
``durable.engine.Host``: the Host starts two timer threads that dispatch actions in the
background and steal results from synchronous callers, and its Python action plumbing is
3-6x slower and swallows exceptions. Here one evaluation is, per ruleset chunk::

    assert_fact(fact) -> start_action_for_state -> complete_and_start_action ... -> retract_fact

collecting the name of every rule that fired; nothing is left behind in the session.

Sessions: each concurrent evaluation borrows its own session id (``sid``) from a pool,
because a sid shared between threads gives wrong results. The C calls hold the GIL, so the
pool never grows beyond the number of threads evaluating at once. A session's facts all
carry one id (see :func:`_fact_id`): durable refuses a fact only while one with the same
id is in the session, and each is retracted before the session's next one, so the texts
of a session's facts' heads and retractions are made once, not per evaluation.

Freeing memory: ``delete_ruleset`` frees the ruleset and its table of sessions but not what
each session allocated (its sid, message, frame and action pools: about 1.6 KB per session
and ruleset), so a reload that only deleted rulesets leaked hundreds of KB per build.
:meth:`DurableBackend.close` therefore calls ``delete_state`` for every session first. That
call frees the session's action context, which durable leaves uninitialised until an action
has run on the session: on a session that never fired a rule it frees garbage and crashes
the process. So every ruleset gets one extra rule, :data:`PRIME`, matched only by a priming
fact (``k == 2``; incidents carry ``k == 1``), and a new session is primed on every ruleset
(assert, run the action, retract) before its first evaluation. :meth:`close` runs on
garbage collection too.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from cxplay._common import codecache
from cxplay._engine.compiler import (
    ABSENT,
    ABSENT_HIGH,
    ABSENT_LOW,
    ABSENT_NUMBER,
    Chunk,
    FactField,
    Program,
    definition_text,
    number_text,
)
from cxplay._playbooks.loader import PlaybookSet
from cxplay.errors import (
    BackendError,
    CompileError,
    CxplayError,
    EngineClosedError,
    Problem,
    RuleEngineError,
)

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

_prefixes = itertools.count(1)

#: the rule that primes a session (see the module docstring); incidents never match it
PRIME = "prime"
_PRIME_RULE = {"all": [{"m": {"k": 2}}]}


def _fnv1(text: str) -> int:
    """The 32-bit FNV hash durable gives an ASCII text (``fnv1Hash32``: xor, then multiply)."""
    value = 0x811C9DC5
    for char in text.encode("ascii"):
        value = ((value ^ char) * 16777619) & 0xFFFFFFFF
    return value


def _fact_id(sid: str) -> int:
    """The id every fact of session ``sid`` carries: one whose hash is not its state's.

    durable looks facts up by the 32-bit hash of their id alone (the text is never
    compared), and each session holds its state fact (id ``sid-<sid>``) for good: a fact
    whose id hashed the same would be refused as already seen (code 2), and its
    retraction would delete the state. An id counted up per evaluation (as before) had
    a chance in 2**32 of that each time; one id per session, tested here, has none.
    """
    state = _fnv1(f"sid-{sid}")
    return next(n for n in itertools.count(1) if _fnv1(str(n)) != state)


def _delete_rulesets(handles: list[int], sids: list[str]) -> None:
    # delete_ruleset leaves each session's state behind in the C heap (about 1.6 KB per
    # session and ruleset, hundreds of KB per build): free the states first.
    while handles:
        handle = handles.pop()
        for sid in sids:
            with contextlib.suppress(Exception):  # 309: the sid never reached this ruleset
                _engine.delete_state(handle, sid)
        with contextlib.suppress(Exception):
            _engine.delete_ruleset(handle)
    sids.clear()


# How a fact field is written (see _compiler: FactField.variant and ABSENT*).
_STRING, _NUMBER, _BOOLEAN, _PRESENCE, _RAW, _HIGH, _LOW = range(7)
_ABSENT_TEXT = {
    _NUMBER: number_text(ABSENT_NUMBER),
    _BOOLEAN: repr(ABSENT),
    _PRESENCE: repr(ABSENT),
    _HIGH: number_text(ABSENT_HIGH),
    _LOW: number_text(ABSENT_LOW),
}


def _mode(field: FactField) -> int:
    if field.variant == "raw":
        return _RAW
    if field.variant == "high":
        return _HIGH
    if field.variant == "low":
        return _LOW
    return {"string": _STRING, "number": _NUMBER, "boolean": _BOOLEAN}.get(field.kind, _PRESENCE)


#: Builds the fact text of one chunk from ``flat.get``, the head (``{"k":1,"id":..,"sid":..``)
#: and the tail (regex keys and ``}``).
_Builder = Callable[[Callable[[str], Any], str, str], str]


def _builder(fields: tuple[FactField, ...], codes: Mapping[str, int]) -> _Builder:
    """The fact text of one chunk as one generated f-string, decided once per chunk.

    Every value is an int or a float (strings travel as integer codes), so the JSON text
    is built directly (json.dumps cost more than the C call); a loop over the fields that
    chose each encoding per evaluation took ~20 % longer (1.55 against 1.3 us). Keys, paths
    and absent texts reach the generated code as names in its namespace, never as text.
    A number is written as ``repr(float(v))``, and through :func:`number_text` only when
    that has an exponent (the same text: number_text starts from it), which saves a
    Python call per number.
    """
    namespace: dict[str, Any] = {
        # a string's code as its text (formatting the int per evaluation cost ~0.1 us)
        "C": {**{value: str(code) for value, code in codes.items()}, None: str(ABSENT)},
        "U": "-1",  # a string no literal has
        "N": number_text,
        "R": repr,
        "F": float,
    }
    lines = ["def build(g, head, tail):"]
    pieces = ["{head}"]
    for i, field in enumerate(fields):
        mode = _mode(field)
        namespace[f"K{i}"] = f',"{field.key}":'
        namespace[f"P{i}"] = field.path
        if mode == _STRING:  # a string's code; C maps None (absent) to ABSENT
            pieces.append(f"{{K{i}}}{{C.get(g(P{i}), U)}}")
            continue
        lines.append(f"    v{i} = g(P{i})")
        if mode == _PRESENCE:
            namespace[f"A{i}"] = _ABSENT_TEXT[mode]
            pieces.append(f"{{K{i}}}{{A{i} if v{i} is None else 1}}")
            continue
        # numbers and booleans (True -> 1.0 compares like 1): number_text(v), inlined
        lines.append(f"    if v{i} is not None:")
        lines.append(f"        t{i} = R(F(v{i}))")
        lines.append(f'        if "e" in t{i}:')
        lines.append(f"            t{i} = N(v{i})")
        if mode == _RAW:  # absent: the key is left out
            pieces.append(f'{{"" if v{i} is None else K{i} + t{i}}}')
        else:
            namespace[f"A{i}"] = _ABSENT_TEXT[mode]
            pieces.append(f"{{K{i}}}{{A{i} if v{i} is None else t{i}}}")
    pieces.append("{tail}")
    lines.append(f"    return f'{''.join(pieces)}'")
    # the compiled layout only; its code kept compiled by the CLI (no annotations: the
    # future import of this module would change nothing in it)
    exec(codecache.code("\n".join(lines)), namespace)
    build: _Builder = namespace["build"]
    return build


#: One chunk of an evaluation: its ruleset handle, fact-text builder and regex keys.
_Step = tuple[int, _Builder, tuple[tuple[str, int], ...]]

#: A rule that holds for every incident its chunk sees (its only test is the marker, as
#: compiled for a type's partition whose condition is the type alone).
_ALWAYS = {"all": [{"m": {"k": 1}}]}


def _culprit(chunk: Chunk) -> int:
    """The rule of a refused chunk that durable refuses on its own (else the first)."""
    for position in chunk.rules:
        name = f"{chunk.name}_probe_{position}"
        definition = {f"r{position}": chunk.definition[f"r{position}"]}
        try:
            handle = _engine.create_ruleset(name, definition_text(definition))
        except Exception:  # refused alone: this is the rule
            return position
        _engine.delete_ruleset(handle)
    return chunk.rules[0]


class DurableBackend:
    """Evaluate rules with durable_rules' C core, rulesets partitioned and chunked."""

    name = "durable"

    def __init__(self, rules: PlaybookSet, program: Program) -> None:
        if not AVAILABLE:
            raise BackendError(UNAVAILABLE_REASON)
        self._program = program
        self._handles: list[int] = []
        self._sids: list[str] = []  # every session id handed out, for close()
        self._finalizer = weakref.finalize(self, _delete_rulesets, self._handles, self._sids)
        self._chunk_handles: dict[str, int] = {}
        # per chunk: the builder of its fact text -- decided once, not per evaluation
        self._build: dict[str, _Builder] = {}
        self._plan: dict[str, tuple[tuple[int, ...], tuple[_Step, ...]]] = {}
        # per chunk: the rules that hold for every incident it sees, decided here and not
        # sent to durable (each fired rule costs a C round trip and a copy of the fact)
        self._always: dict[str, tuple[int, ...]] = {}
        # free sessions, each as (its facts' head, its retraction): see _session
        self._free: list[tuple[str, str]] = []
        # a rule's name from the body durable returns ('{"r12":{"m":...'): the fixed-width
        # slice after '{"r' (the digits, padded by the fixed text after them) is one key
        # of this table, which reads no further than its own width (a wider key fails)
        chunks = (*program.generic, *(c for cs in program.by_type.values() for c in cs))
        positions = [p for chunk in chunks for p in chunk.rules]
        width = max((len(str(p)) for p in positions), default=1)
        self._names = {(f'{p}":{{"m":')[:width]: p for p in positions}
        self._name_end = 3 + width
        self._sessions = 0
        self._lock = threading.Lock()
        # close() while evaluations run: they finish, and the last one out frees the
        # rulesets (freeing them under a running one made durable fail with error 111);
        # set before the rulesets are made, which a refused one closes
        self._running: list[None] = []
        self._closed = False
        self._available = threading.Condition(self._lock)
        for chunk in chunks:
            always = tuple(p for p in chunk.rules if chunk.definition[f"r{p}"] == _ALWAYS)
            self._always[chunk.name] = always
            definition = {
                name: rule
                for name, rule in chunk.definition.items()
                if not (name[0] == "r" and int(name[1:]) in always)
            }
            try:
                handle = _engine.create_ruleset(
                    chunk.name, definition_text({**definition, PRIME: _PRIME_RULE})
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
            self._build[chunk.name] = _builder(chunk.fields, program.strings)

    # -- sessions ----------------------------------------------------------------------

    def _acquire(self) -> tuple[str, str]:
        """A free session, as :meth:`_session` writes it."""
        try:
            return self._free.pop()  # atomic under the GIL: no lock while sessions are free
        except IndexError:
            pass
        with self._available:
            while not self._free and self._sessions >= MAX_SESSIONS:
                self._available.wait()
            if self._free:
                return self._free.pop()
            self._sessions += 1
            sid = f"s{self._sessions}"
            self._prime(sid)
            return self._session(sid)

    @staticmethod
    def _session(sid: str) -> tuple[str, str]:
        """(the head of the session's facts: ``{"k":1,"id":1,"sid":"s1"``, its retraction)."""
        key = f'"id":{_fact_id(sid)},"sid":"{sid}"'
        return f'{{"k":1,{key}', f"{{{key}}}"

    def _prime(self, sid: str) -> None:
        """Run one action on a new session in every ruleset, so that it can be deleted."""
        self._sids.append(sid)
        for handle in self._handles:
            text = f'{{"k":2,"id":{_fact_id(sid)},"sid":"{sid}"}}'
            code, state = _engine.assert_fact(handle, text)
            try:
                message = _engine.start_action_for_state(handle, state) if code == 0 else None
                while message:
                    message = _engine.complete_and_start_action(handle, state)
            finally:
                _engine.retract_fact(handle, text)
            if code != 0:  # pragma: no cover - the priming rule always matches
                raise RuleEngineError(f"the rule engine did not prime session {sid} ({code})")

    def _release(self) -> None:
        """Wake one evaluation waiting for a session (the session is back in the pool)."""
        with self._available:
            self._available.notify()

    # -- evaluation --------------------------------------------------------------------

    def _chunks(self, incident_type: str) -> tuple[tuple[int, ...], tuple[_Step, ...]]:
        """(the rules that hold whatever the incident, the chunks durable must see)."""
        plan = self._plan.get(incident_type)
        if plan is None:
            chunks = self._program.chunks_for(incident_type)
            plan = (
                tuple(p for c in chunks for p in self._always[c.name]),
                tuple(
                    (self._chunk_handles[c.name], self._build[c.name], c.regexes)
                    for c in chunks
                    if len(self._always[c.name]) < len(c.rules)
                ),
            )
            if incident_type in self._program.by_type or len(self._plan) < 10_000:
                self._plan[incident_type] = plan
        return plan

    def evaluate(self, incident_type: str, flat: Mapping[str, Any]) -> list[int]:
        """Positions of the rules whose condition holds (unordered, no duplicates).

        One function, the session pool's fast path inlined: at 200 rules an evaluation is
        one chunk, and each Python call around its four kinds of C call cost ~0.1 us.
        """
        # The gate is a list: append and pop are atomic under the GIL (two lock round
        # trips per evaluation cost ~0.35 us, 3 % of the backend's time). In first,
        # then the closed test; close() sets closed first, then looks: so either close()
        # sees this evaluation running, or this evaluation sees the engine closed.
        running = self._running
        running.append(None)
        try:
            if self._closed:
                raise EngineClosedError("this engine has been closed")
            always, plan = self._plan.get(incident_type) or self._chunks(incident_type)
            if not plan:
                return list(always)
            # a set: durable fires a rule once per alternative of an "or" that holds
            fired: set[int] = set(always)
            names, end = self._names, self._name_end
            regexes: dict[int, bool] = {}
            get = flat.get
            free = self._free
            try:
                session = free.pop()  # atomic under the GIL: no lock while sessions are free
            except IndexError:
                session = self._acquire()
            # a retraction names the fact by its id and session only: durable reads
            # nothing else of it, and parses a short text faster (~0.3 us)
            head, retraction = session
            try:
                for handle, build, chunk_regexes in plan:
                    tail = self._tail(chunk_regexes, get, regexes) if chunk_regexes else "}"
                    text = build(get, head, tail)
                    try:
                        code, state = _engine.assert_fact(handle, text)
                        if code == 0:
                            # (state, body) or None, then each next body or None; a body
                            # is '{"r12":{"m":{...}}}', its name read by a fixed slice
                            message = _engine.start_action_for_state(handle, state)
                            body = message[1] if message is not None else None
                            complete = _engine.complete_and_start_action
                            while body:
                                fired.add(names[body[3:end]])
                                body = complete(handle, state)
                        elif code != 1:  # 2: a fact with this id is in the session still
                            raise RuleEngineError(f"the rule engine refused the fact ({code})")
                    finally:
                        _engine.retract_fact(handle, retraction)
            except Exception as exc:
                if isinstance(exc, CxplayError):
                    raise
                raise RuleEngineError(f"the rule engine failed: {exc}") from None
            finally:
                free.append(session)
                if self._sessions >= MAX_SESSIONS:  # someone may be waiting for a session
                    self._release()
            return list(fired)
        finally:
            running.pop()
            if self._closed and not running:  # the last one out frees (finalizer: once)
                self._finalizer()

    def _tail(
        self,
        chunk_regexes: tuple[tuple[str, int], ...],
        get: Callable[[str], Any],
        regexes: dict[int, bool],
    ) -> str:
        """The regex keys of a chunk's fact and its closing brace (each regex run once)."""
        parts = []
        for key, number in chunk_regexes:
            found = regexes.get(number)
            if found is None:
                path, pattern = self._program.regexes[number]
                value = get(path)
                found = isinstance(value, str) and pattern.search(value) is not None
                regexes[number] = found
            parts.append(f',"{key}":{int(found)}')
        return "".join(parts) + "}"

    def close(self) -> None:
        """Delete the rulesets (and with them every session); idempotent.

        Evaluations already running finish first (the last one frees the rulesets); any
        evaluation asked for afterwards raises :class:`cxplay.EngineClosedError`.
        """
        self._closed = True
        if not self._running:
            self._finalizer()
