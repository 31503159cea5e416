"""Load playbooks: TOML files -> validated models with parsed conditions.

Every problem is collected, not just the first, and each names the file, the line, the
rule id and the key path. A set of playbooks is loaded as a whole: duplicate ids and
conflicting fact declarations across files are errors too.
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from cxplay._common import cache
from cxplay._common.files import broken_link, toml_files
from cxplay._common.problems import allowed_keys, error_message, format_key, key_path
from cxplay._common.text import did_you_mean, echo
from cxplay._common.toml import LineIndex, read_toml
from cxplay._conditions.parse import (
    POLICY_VALUE,
    Cmp,
    ConditionSyntaxError,
    FieldType,
    In,
    Node,
    builtin_fields,
    fact_field_type,
    leaves,
    parse_condition,
    policy_value_path,
    type_constraint,
    with_policy_value,
)
from cxplay.errors import (
    ConditionError,
    LoadError,
    PlaybookError,
    Problem,
    SchemaError,
)

if TYPE_CHECKING:
    from cxplay._playbooks.labels import LabelBook

from cxplay.models import (
    ACTION_KINDS,
    Correlate,
    FactSpec,
    FactType,
    Incident,
    Playbook,
    PlaybookFile,
    Rule,
)

__all__ = [
    "CompiledCorrelation",
    "CompiledRule",
    "PlaybookSet",
    "load_playbooks",
    "shipped_playbooks_dir",
]


def shipped_playbooks_dir() -> Path:
    """Where the shipped playbooks are: inside the wheel, or in a source checkout."""
    here = Path(__file__).resolve().parent.parent  # cxplay/
    installed = here / "_shipped_playbooks"
    if installed.is_dir():
        return installed
    return here.parent / "playbooks"


@dataclass(frozen=True)
class CompiledRule:
    """A rule ready for the backends: its parsed condition and where it came from."""

    rule: Rule
    playbook: Playbook
    order: int
    condition: Node
    types: frozenset[str] | None
    line: int | None
    when_line: int | None = None

    @property
    def id(self) -> str:
        """The rule id."""
        return self.rule.id


@dataclass(frozen=True)
class CompiledCorrelation:
    """A ``[[correlate]]`` block ready for the watcher: its parsed condition and key fields."""

    correlate: Correlate
    playbook: Playbook
    condition: Node
    line: int | None

    @property
    def id(self) -> str:
        """The correlation's id."""
        return self.correlate.id


@dataclass(frozen=True)
class PlaybookSet:
    """Every playbook loaded from a directory or a list of files, validated together."""

    playbooks: tuple[Playbook, ...]
    rules: tuple[CompiledRule, ...]
    facts: Mapping[str, FactSpec]
    fields: Mapping[str, FieldType]
    files: tuple[Path, ...]
    root: Path | None = None
    stamps: tuple[tuple[str, int, int], ...] = field(default=())
    #: The reply catalogs as they were validated with these playbooks (a ``Renderer``, every
    #: language read), when ``validate_playbooks`` loaded them: an engine built on this set
    #: serves exactly what was checked and reads nothing more from disk.
    replies: Any = field(default=None, compare=False, repr=False)

    @functools.cached_property
    def labels(self) -> LabelBook:
        """The set's labels for people (titles of types, facts, channels, action kinds)."""
        from cxplay._playbooks.labels import LabelBook

        return LabelBook(self.playbooks)

    correlations: tuple[CompiledCorrelation, ...] = field(default=())

    def rule(self, rule_id: str) -> CompiledRule:
        """The compiled rule with this id."""
        for compiled in self.rules:
            if compiled.id == rule_id:
                return compiled
        raise KeyError(rule_id)

    def incident_types(self) -> frozenset[str]:
        """The incident types the playbooks name: in a condition or a fact's required_for."""
        named = {t for rule in self.rules for t in rule.types or ()}
        named.update(t for spec in self.facts.values() for t in spec.required_for)
        return frozenset(named)

    def literals(self, path: str) -> list[str]:
        """The text values conditions compare a field with (``customer.tier``: gold, ...)."""
        found: set[str] = set()
        for rule in self.rules:
            for leaf in leaves(rule.condition):
                if leaf.path != path:
                    continue
                if isinstance(leaf, Cmp) and isinstance(leaf.value, str):
                    found.add(leaf.value)
                elif isinstance(leaf, In):
                    found.update(v for v in leaf.values if isinstance(v, str))
        return sorted(found)


class _Problems:
    def __init__(self) -> None:
        self.items: list[tuple[type[PlaybookError], Problem]] = []

    def add(self, kind: type[PlaybookError], problem: Problem) -> None:
        self.items.append((kind, problem))

    def extend(self, error: PlaybookError) -> None:
        for problem in error.problems:
            self.add(type(error), problem)

    def raise_if_any(self) -> None:
        if not self.items:
            return
        kinds = {kind for kind, _ in self.items}
        cls = kinds.pop() if len(kinds) == 1 else PlaybookError
        files: dict[str | None, int] = {}  # files in the order they were loaded
        for _, problem in self.items:
            files.setdefault(problem.file, len(files))
        ordered = sorted((p for _, p in self.items), key=lambda p: (files[p.file], p.line or 0))
        raise cls(ordered)


def _playbook_files(paths: Sequence[Path]) -> list[Path]:
    files: list[Path] = []
    unusable: list[Problem] = []
    for path in paths:
        if path.is_dir():
            found, broken = toml_files(path)
            unusable += [
                Problem(f"{reason}: fix or remove it", file=str(p)) for p, reason in broken
            ]
            if not found and not broken:
                raise LoadError(
                    [Problem("no playbooks (*.toml) in this directory", file=str(path))]
                )
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            reason = broken_link(path) or "no such file or directory"
            raise LoadError([Problem(reason, file=str(path))])
    if unusable:
        raise LoadError(unusable)
    return files


def load_playbooks(paths: Path | str | Iterable[Path | str] | None = None) -> PlaybookSet:
    """Load and validate playbooks from a directory, files, or (None) the shipped ones.

    Inside :func:`cxplay._common.cache.enabled` (the CLI, unless ``--no-cache``), a set
    that loaded before from the same bytes comes from the snapshot cache
    (:mod:`cxplay._playbooks.snapshot`).
    """
    if paths is None:
        paths = shipped_playbooks_dir()
    if isinstance(paths, str | Path):
        path_list = [Path(paths)]
    else:
        path_list = [Path(p) for p in paths]
    files = _playbook_files(path_list)
    if cache.is_on():
        from cxplay._playbooks.snapshot import cached

        return cached(path_list, files, lambda: _load(path_list, files))
    return _load(path_list, files)


def _load(path_list: list[Path], files: list[Path]) -> PlaybookSet:
    problems = _Problems()
    parsed: list[tuple[Path, PlaybookFile, LineIndex]] = []
    for file in files:
        try:
            data, index = read_toml(file)
        except LoadError as exc:
            problems.extend(exc)
            continue
        document = _validate_document(file, data, index, problems)
        if document is not None:
            parsed.append((file, document, index))
    facts = _merge_facts(parsed, problems)
    playbooks, rules = _compile(parsed, problems)
    correlations = _correlations(parsed, playbooks, problems)
    problems.raise_if_any()
    stamps = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files)
    root = path_list[0] if len(path_list) == 1 and path_list[0].is_dir() else None
    fields = dict(builtin_fields())
    fields.update({f"facts.{n}": fact_field_type(s.type) for n, s in facts.items()})
    fields.update({policy_value_path(p.meta.id): fields[POLICY_VALUE] for p in playbooks})
    return PlaybookSet(
        tuple(playbooks),
        tuple(rules),
        facts,
        fields,
        tuple(files),
        root,
        stamps,
        correlations=tuple(correlations),
    )


# --------------------------------------------------------------------------- schema errors


def _unwrap(annotation: Any) -> list[Any]:
    """Model classes reachable from an annotation (through Optional, list, dict, Annotated)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType, list, tuple, dict):
        found: list[Any] = []
        for arg in typing.get_args(annotation):
            found.extend(_unwrap(arg))
        return found
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return []


def _model_at(loc: Sequence[str | int]) -> tuple[type[BaseModel] | None, list[str | int]]:
    """Walk a pydantic error location; return the model owning the last key and the clean path.

    Discriminated unions put the tag (``refund``) into the location; it is not a key the
    user wrote, so it is dropped from the returned path.
    """
    model: type[BaseModel] | None = PlaybookFile
    path: list[str | int] = []
    candidates: list[type[BaseModel]] = [PlaybookFile]
    for index, part in enumerate(loc):
        if isinstance(part, int):
            path.append(part)
            continue
        owner = next((c for c in candidates if part in c.model_fields), None)
        if owner is None:
            tagged = [
                c
                for c in candidates
                if "kind" in c.model_fields
                and typing.get_args(c.model_fields["kind"].annotation) == (part,)
            ]
            if tagged:
                candidates = tagged
                model = tagged[0]
                continue
            if index == len(loc) - 1:
                path.append(part)
                model = candidates[0] if len(candidates) == 1 else None
                return model, path
            path.append(part)  # a dict key (e.g. facts.<name>)
            continue
        model = owner
        path.append(part)
        candidates = _unwrap(owner.model_fields[part].annotation) or []
    return (candidates[0] if len(candidates) == 1 else model), path


def _schema_problem(
    file: Path, data: Mapping[str, Any], index: LineIndex, error: Mapping[str, Any]
) -> Problem:
    loc = tuple(error["loc"])
    kind = error["type"]
    owner, path = _model_at(loc)
    rule_id: str | None = None
    relative = path
    if len(path) >= 2 and path[0] == "rule" and isinstance(path[1], int):
        rules = data.get("rule")
        if isinstance(rules, list) and path[1] < len(rules) and isinstance(rules[path[1]], dict):
            candidate = rules[path[1]].get("id")
            rule_id = candidate if isinstance(candidate, str) else f"rule[{path[1]}]"
        relative = path[2:]
    elif len(path) >= 2 and path[0] == "correlate" and isinstance(path[1], int):
        blocks = data.get("correlate")
        rule_id = f"correlate[{path[1]}]"
        if isinstance(blocks, list) and path[1] < len(blocks) and isinstance(blocks[path[1]], dict):
            candidate = blocks[path[1]].get("id")
            rule_id = candidate if isinstance(candidate, str) else rule_id
        relative = path[2:]
    elif len(path) >= 2 and path[0] == "test" and isinstance(path[1], int):
        rule_id = f"test[{path[1]}]"
        relative = path[2:]
    line = index.line(path)
    if kind == "extra_forbidden":
        parent_owner, _ = _model_at(loc[:-1]) if len(loc) > 1 else (PlaybookFile, [])
        known = list(parent_owner.model_fields) if parent_owner else []
        message = error_message(error, known=known)
        relative = relative[:-1]
    elif kind == "missing":
        message = error_message(error)
        relative = relative[:-1]
        line = index.line(path[:-1]) or line
    elif kind in ("union_tag_invalid", "union_tag_not_found"):
        tag = (error.get("ctx") or {}).get("tag")
        kinds = list(ACTION_KINDS)
        if tag is None:
            message = f"missing 'kind' (one of: {', '.join(kinds)})"
        else:
            hint = did_you_mean(str(tag), kinds, otherwise=f" (one of: {', '.join(kinds)})")
            message = f"unknown action kind {echo(tag)}{hint}"
    else:
        message = error_message(error)
    del owner
    return Problem(
        message, file=str(file), line=line, rule=rule_id, key=format_key(relative) or None
    )


def _fact_problem(file: Path, data: Mapping[str, Any], index: LineIndex, name: str) -> Problem:
    value = data.get("facts", {}).get(name)
    if isinstance(value, dict):  # a table: say what is wrong inside it
        try:
            FactSpec.model_validate(value)
        except ValidationError as exc:
            error = exc.errors()[0]
            inner = key_path(error["loc"])
            return Problem(
                error_message(error, known=allowed_keys(FactSpec, inner[:-1])),
                file=str(file),
                line=index.line(("facts", name, *inner)) or index.line(("facts", name)),
                key=format_key(("facts", name, *inner)),
            )
    types = ", ".join(typing.get_args(FactType))
    got = f" (got {echo(value)})" if isinstance(value, str | int | float | bool) else ""
    return Problem(
        f"a fact is one of {types}, or a table {{ type = ..., required_for = [...] }}{got}",
        file=str(file),
        line=index.line(("facts", name)),
        key=f"facts.{name}",
    )


def _check_conditions_anyway(
    file: Path, data: Mapping[str, Any], index: LineIndex, problems: _Problems
) -> None:
    """Check the conditions of a file whose schema failed, so no problem waits for another.

    Each rule that is valid on its own is checked against the built-in fields and the facts
    that are declared validly.
    """
    fields = dict(builtin_fields())
    raw_facts = data.get("facts")
    if isinstance(raw_facts, dict):
        for name, spec in raw_facts.items():
            try:
                parsed = FactSpec.model_validate(spec if isinstance(spec, dict) else {"type": spec})
            except ValidationError:
                continue
            fields[f"facts.{name}"] = fact_field_type(parsed.type)
    raw_rules = data.get("rule")
    if not isinstance(raw_rules, list):
        return
    for number, raw in enumerate(raw_rules):
        if not isinstance(raw, dict) or not isinstance(raw.get("when"), str):
            continue
        try:
            parse_condition(raw["when"], fields)
        except ConditionSyntaxError as exc:
            rule_id = raw.get("id") if isinstance(raw.get("id"), str) else f"rule[{number}]"
            problems.add(
                ConditionError,
                Problem(
                    str(exc),
                    file=str(file),
                    line=index.line(("rule", number, "when")),
                    rule=rule_id,
                    key="when",
                ),
            )


def _validate_document(
    file: Path, data: dict[str, Any], index: LineIndex, problems: _Problems
) -> PlaybookFile | None:
    try:
        document = PlaybookFile.model_validate(data)
    except ValidationError as exc:
        fact_errors: set[str] = set()
        for error in exc.errors():
            loc = error["loc"]
            if len(loc) >= 2 and loc[0] == "facts" and isinstance(loc[1], str):
                # a fact's value is "type" or a table: pydantic reports both members of the
                # union; the user needs one line
                if loc[1] not in fact_errors:
                    fact_errors.add(loc[1])
                    problems.add(SchemaError, _fact_problem(file, data, index, loc[1]))
                continue
            problems.add(SchemaError, _schema_problem(file, data, index, error))
        _check_conditions_anyway(file, data, index, problems)
        return None
    for number, scenario in enumerate(document.test):
        try:
            Incident.model_validate(scenario.incident)
        except ValidationError as exc:
            for error in exc.errors():
                loc = ("test", number, "incident", *error["loc"])
                key = format_key(["incident", *error["loc"]])
                message = str(error["msg"])
                problems.add(
                    SchemaError,
                    Problem(
                        f"invalid incident: {message[:1].lower() + message[1:]}",
                        file=str(file),
                        line=index.line(loc),
                        rule=scenario.name or f"test[{number}]",
                        key=key,
                    ),
                )
    return document


def _merge_facts(
    parsed: Sequence[tuple[Path, PlaybookFile, LineIndex]], problems: _Problems
) -> dict[str, FactSpec]:
    merged: dict[str, FactSpec] = {}
    origin: dict[str, str] = {}
    for file, document, index in parsed:
        for name, spec in document.facts.items():
            spec = spec if isinstance(spec, FactSpec) else FactSpec(type=spec)
            if name in merged and merged[name].type != spec.type:
                problems.add(
                    SchemaError,
                    Problem(
                        f"fact '{name}' is declared as {spec.type} here but as "
                        f"{merged[name].type} in {origin[name]}",
                        file=str(file),
                        line=index.line(("facts", name)),
                        key=f"facts.{name}",
                    ),
                )
                continue
            if name in merged:
                required = sorted(set(merged[name].required_for) | set(spec.required_for))
                spec = merged[name].model_copy(update={"required_for": required})
            merged[name] = spec
            origin.setdefault(name, str(file))
    return merged


def _compile(
    parsed: Sequence[tuple[Path, PlaybookFile, LineIndex]], problems: _Problems
) -> tuple[list[Playbook], list[CompiledRule]]:
    playbooks: list[Playbook] = []
    rules: list[CompiledRule] = []
    rule_seen: dict[str, str] = {}
    playbook_seen: dict[str, str] = {}
    order = 0
    for file, document, index in parsed:
        meta = document.playbook
        where = f"{file}:{index.line(('playbook', 'id'))}"
        if meta.id in playbook_seen:
            problems.add(
                SchemaError,
                Problem(
                    f"duplicate playbook id '{meta.id}' (also in {playbook_seen[meta.id]})",
                    file=str(file),
                    line=index.line(("playbook", "id")),
                ),
            )
        playbook_seen.setdefault(meta.id, where)
        facts = {
            name: spec if isinstance(spec, FactSpec) else FactSpec(type=spec)
            for name, spec in document.facts.items()
        }
        if document.calendar is None:
            for channel, spec in document.sla.items():
                if spec.time == "business":
                    problems.add(
                        SchemaError,
                        Problem(
                            f"sla.{channel} counts business time, but the playbook has no "
                            "[calendar] saying when the team is open",
                            file=str(file),
                            line=index.line(("sla", channel)),
                            key=f"sla.{channel}",
                        ),
                    )
        lines = tuple(index.line(("rule", i)) for i in range(len(document.rule)))
        playbook = Playbook(
            meta=meta,
            facts=facts,
            policy=document.policy,
            sla={channel: spec.within for channel, spec in document.sla.items()},
            business=frozenset(
                channel for channel, spec in document.sla.items() if spec.time == "business"
            ),
            hours=document.calendar.business() if document.calendar else None,
            rules=tuple(document.rule),
            tests=tuple(document.test),
            source=str(file),
            rule_lines=lines,
            labels=dict(document.labels),
            correlations=tuple(document.correlate),
        )
        playbooks.append(playbook)
        fields = dict(builtin_fields())
        fields.update({f"facts.{n}": fact_field_type(s.type) for n, s in facts.items()})
        for number, rule in enumerate(document.rule):
            line = lines[number]
            if rule.id in rule_seen:
                problems.add(
                    SchemaError,
                    Problem(
                        f"duplicate rule id (also in {rule_seen[rule.id]})",
                        file=str(file),
                        line=index.line(("rule", number, "id")),
                        rule=rule.id,
                    ),
                )
                continue
            rule_seen[rule.id] = f"{file}:{index.line(('rule', number, 'id'))}"
            try:
                condition = with_policy_value(parse_condition(rule.when, fields), meta.id)
            except ConditionSyntaxError as exc:
                problems.add(
                    ConditionError,
                    Problem(
                        str(exc),
                        file=str(file),
                        line=index.line(("rule", number, "when")),
                        rule=rule.id,
                        key="when",
                    ),
                )
                continue
            rules.append(
                CompiledRule(
                    rule,
                    playbook,
                    order,
                    condition,
                    type_constraint(condition),
                    line,
                    index.line(("rule", number, "when")),
                )
            )
            order += 1
    return playbooks, rules


def _correlations(
    parsed: Sequence[tuple[Path, PlaybookFile, LineIndex]],
    playbooks: Sequence[Playbook],
    problems: _Problems,
) -> list[CompiledCorrelation]:
    """Check each ``[[correlate]]``: its condition and key fields, like a rule's ``when``."""
    compiled: list[CompiledCorrelation] = []
    seen: dict[str, str] = {}
    by_file = {p.source: p for p in playbooks}
    for file, document, index in parsed:
        playbook = by_file.get(str(file))
        if playbook is None:
            continue
        fields = dict(builtin_fields())
        fields.update({f"facts.{n}": fact_field_type(s.type) for n, s in playbook.facts.items()})
        for number, block in enumerate(document.correlate):

            def problem(
                message: str,
                key: str,
                *where: str | int,
                index: LineIndex = index,
                number: int = number,
                file: Path = file,
                block: Correlate = block,
            ) -> Problem:
                line = index.line(("correlate", number, *where)) or index.line(
                    ("correlate", number)
                )
                return Problem(message, file=str(file), line=line, rule=block.id, key=key)

            if block.id in seen:
                problems.add(
                    SchemaError,
                    problem(f"duplicate correlation id (also in {seen[block.id]})", "id", "id"),
                )
                continue
            seen[block.id] = f"{file}:{index.line(('correlate', number, 'id'))}"
            bad = False
            for position, name in enumerate(block.key):
                if name == POLICY_VALUE or name not in fields:
                    hint = did_you_mean(name, [f for f in fields if f != POLICY_VALUE])
                    problems.add(
                        SchemaError,
                        problem(
                            f"unknown key field {echo(name)}{hint}",
                            f"key[{position}]" if len(block.key) > 1 else "key",
                            "key",
                        ),
                    )
                    bad = True
                elif fields[name].kind not in ("string", "number"):
                    problems.add(
                        SchemaError,
                        problem(
                            f"a key field is a string or a number, {echo(name)} is a "
                            f"{fields[name].kind}",
                            "key",
                            "key",
                        ),
                    )
                    bad = True
            try:
                condition = with_policy_value(parse_condition(block.when, fields), playbook.meta.id)
            except ConditionSyntaxError as exc:
                problems.add(ConditionError, problem(str(exc), "when", "when"))
                continue
            if not bad:
                compiled.append(
                    CompiledCorrelation(
                        block, playbook, condition, index.line(("correlate", number))
                    )
                )
    return compiled
