"""Checks beyond loading: what ``cxplay validate`` reports.

:func:`validate_playbooks` is what ``cxplay validate`` reports: everything the loader
checks, plus

* **rules that can never win** (:func:`unreachable_rules`): a rule whose condition can
  never hold, and a rule that is always beaten -- a rule ranked above it (higher priority,
  or equal priority and earlier in file order) in the same ``group``, or a ``stop = true``
  rule outside any group, whose condition holds whenever its own does;
* **scenarios that cite what does not exist**: ``expect_rules`` naming no rule, ``expect``
  naming no action kind;
* **labels** (:func:`cxplay._playbooks.labels.label_problems`): a playbook with
  ``[labels]`` labels everything it names in each of its languages;
* **the renderer's checks** (:func:`renderer_problems`): declared languages without
  templates, actions without a template.

The implication check itself is :func:`cxplay._conditions.implication.implies`.
"""

from __future__ import annotations

import contextvars
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from jinja2 import TemplateSyntaxError, meta, nodes

from cxplay._common.text import did_you_mean, echo
from cxplay._common.toml import read_toml
from cxplay._conditions.implication import implies, never_holds
from cxplay._playbooks.labels import label_problems
from cxplay._playbooks.loader import CompiledRule, PlaybookSet, load_playbooks
from cxplay._replies.renderer import (
    Renderer,
    ReplyContext,
    catalog_language,
    public_leak,
    template_name,
)
from cxplay.errors import LoadError, PlaybookError, Problem, RenderError, TemplateError
from cxplay.models import CHANNELS, Action, Incident, Playbook, PlaybookFile, Scenario
from cxplay.results import SuggestedAction

__all__ = [
    "ValidationReport",
    "catalog_problems",
    "check_replies",
    "json_schema",
    "renderer_problems",
    "scenario_problems",
    "unreachable_rules",
    "validate_playbooks",
]

PathsLike = Path | str | Sequence[Path | str] | None


# --------------------------------------------------------------------------- lints


def _where(rule: CompiledRule) -> str:
    return rule.playbook.source if rule.line is None else f"{rule.playbook.source}:{rule.line}"


def _problem(rule: CompiledRule, message: str) -> Problem:
    return Problem(message, file=rule.playbook.source, line=rule.line, rule=rule.id)


def unreachable_rules(playbooks: PlaybookSet) -> list[Problem]:
    """Rules whose actions can never be used: never matching, or always beaten.

    Args:
        playbooks: A loaded set of playbooks; groups span all of its playbooks.

    Returns:
        One problem per such rule, located at the rule.
    """
    fields = playbooks.fields
    ranked = sorted(playbooks.rules, key=lambda r: (-r.rule.priority, r.order))
    problems: list[Problem] = []
    dead: set[str] = set()
    for position, low in enumerate(ranked):
        if never_holds(low.condition, fields):
            dead.add(low.id)
            problems.append(_problem(low, "condition can never hold"))
            continue
        for high in ranked[:position]:
            group = low.rule.group
            same_group = group is not None and high.rule.group == group
            # A stop rule inside a group may itself lose its group and then stops nothing.
            stops = high.rule.stop and high.rule.group is None
            if high.id in dead or not (same_group or stops):
                continue
            if high.types is not None and (low.types is None or not low.types <= high.types):
                continue  # low can match a type high never matches
            if not implies(low.condition, high.condition, fields):
                continue
            rank = (
                f"priority {high.rule.priority} > {low.rule.priority}"
                if high.rule.priority > low.rule.priority
                else f"same priority {low.rule.priority}, earlier in file order"
            )
            if same_group:
                message = (
                    f"can never win group '{group}': '{high.id}' ({rank}, {_where(high)}) "
                    "matches whenever this rule does"
                )
            else:
                message = (
                    f"can never apply: '{high.id}' ({rank}, stop = true, {_where(high)}) "
                    "matches whenever this rule does and drops the rules below it"
                )
            problems.append(_problem(low, message))
            break
    return problems


def _action_kinds() -> frozenset[str]:
    union = typing.get_args(Action)[0]
    kinds: set[str] = set()
    for model in typing.get_args(union):
        kinds.update(typing.get_args(model.model_fields["kind"].annotation))
    return frozenset(kinds)


def _scenario_lines(playbook: Playbook) -> list[int | None]:
    """Line of each ``[[test]]`` (the loader keeps rule lines only); None if unknown."""
    try:
        _, index = read_toml(Path(playbook.source))
    except LoadError:
        return [None] * len(playbook.tests)
    return [index.line(("test", number)) for number in range(len(playbook.tests))]


def _scenario_name(scenario: Scenario, number: int) -> str:
    return scenario.name or f"test[{number}]"


def scenario_problems(playbooks: PlaybookSet) -> list[Problem]:
    """Scenarios that cite rules or action kinds that do not exist.

    Args:
        playbooks: A loaded set of playbooks.

    Returns:
        One problem per unknown name, located at the scenario.
    """
    rule_ids = {rule.id for rule in playbooks.rules}
    kinds = _action_kinds()
    problems: list[Problem] = []
    for playbook in playbooks.playbooks:
        lines = _scenario_lines(playbook)
        for number, scenario in enumerate(playbook.tests):
            name = _scenario_name(scenario, number)
            for rule_id in scenario.expect_rules:
                if rule_id not in rule_ids:
                    problems.append(
                        Problem(
                            f"expect_rules: no rule '{rule_id}'",
                            file=playbook.source,
                            line=lines[number],
                            rule=name,
                        )
                    )
            for kind in scenario.expect:
                if kind not in kinds:
                    problems.append(
                        Problem(
                            f"expect: no action kind '{kind}' (one of: {', '.join(sorted(kinds))})",
                            file=playbook.source,
                            line=lines[number],
                            rule=name,
                        )
                    )
    return problems


def renderer_problems(playbooks: PlaybookSet) -> list[Problem]:
    """The renderer's checks: declared languages without templates, actions without a template.

    Calls :func:`check_replies`, which may return problems or raise a
    :class:`PlaybookError`; both become a list of problems.

    Args:
        playbooks: A loaded set of playbooks.

    Returns:
        The renderer's problems.
    """
    try:
        found = check_replies(playbooks)
    except PlaybookError as exc:
        return list(exc.problems)
    return [p if isinstance(p, Problem) else Problem(str(p)) for p in found or ()]


@dataclass(frozen=True)
class ValidationReport:
    """What ``cxplay validate`` found; ``playbooks`` is None when they did not load."""

    problems: tuple[Problem, ...]
    playbooks: PlaybookSet | None
    catalogs: tuple[Path, ...] = ()  # reply catalogs checked on their own

    @property
    def ok(self) -> bool:
        """No problem found."""
        return not self.problems

    @property
    def languages(self) -> tuple[str, ...]:
        """Every language some playbook declares, sorted."""
        if self.playbooks is None:
            return ()
        return tuple(sorted({lang for p in self.playbooks.playbooks for lang in p.meta.languages}))


def validate_playbooks(paths: PathsLike = None) -> ValidationReport:
    """Load playbooks and run every check on them; collect problems instead of raising.

    Args:
        paths: A directory, files, or None for the shipped playbooks.

    Returns:
        The report: the loader's problems if they do not load, else those of the checks.
    """
    given = [Path(p) for p in ([paths] if isinstance(paths, str | Path) else paths or [])]
    catalogs = tuple(p for p in given if _is_catalog(p))
    found = [problem for catalog in catalogs for problem in catalog_problems(catalog)]
    rest = [p for p in given if p not in catalogs]
    playbooks = None
    if rest or not catalogs:
        try:
            playbooks = load_playbooks(rest or None)
        except PlaybookError as exc:
            return ValidationReport((*found, *exc.problems), None, catalogs)
        kept: list[Renderer] = []
        token = _KEEP.set(kept)
        try:
            found += [
                *unreachable_rules(playbooks),
                *scenario_problems(playbooks),
                *label_problems(playbooks),
                *renderer_problems(playbooks),
            ]
        finally:
            _KEEP.reset(token)
        if kept and not found:  # what an engine serves is what was checked here
            playbooks = replace(playbooks, replies=kept[0])
    found.sort(key=lambda p: (p.file or "", p.line or 0))
    return ValidationReport(tuple(found), playbooks, catalogs)


def _is_catalog(path: Path) -> bool:
    """A reply catalog, not a playbook: ``replies/*.toml`` or named ``<name>.<lang>.toml``."""
    return path.suffix == ".toml" and (
        path.parent.name == "replies" or catalog_language(path) is not None
    )


def catalog_problems(path: Path) -> list[Problem]:
    """``cxplay validate replies/parcel.pl.toml``: one reply catalog, checked on its own.

    Its name, TOML, fragment names, that every fragment compiles, and the names every
    branch of every fragment uses (:func:`fragment_name_problems`; fact names too when the
    catalog sits in the ``replies/`` directory of playbooks that load).
    """
    source = str(path)
    if config_file(path):
        return []
    language = catalog_language(path)
    if language is None:
        return [Problem("reply catalogs are named <name>.<en|pl|uk>.toml", file=source, line=1)]
    found: list[Problem] = []
    renderer = Renderer([path.parent], problems=found)
    found += renderer.load_all()
    problems = [p for p in found if p.file == source]
    if not path.is_file():
        return [*problems, Problem("no such reply catalog", file=source)]
    for name in renderer.names(language):
        if renderer.origin[(language, name)].rpartition(":")[0] == source:
            try:
                renderer.template(language, name)
            except TemplateError as exc:
                problems.extend(exc.problems)
    try:
        playbooks = load_playbooks(path.parent.parent)
        facts: Any = {n: _SAMPLE_FACTS[spec.type] for n, spec in playbooks.facts.items()}
    except PlaybookError:
        playbooks, facts = None, {}
    context = dict(
        renderer.context(
            _sample_incident("sample_incident", language, facts),
            ReplyContext(actions=(), languages=[language], default_language=language),
            language,
            "email",
        )
    )
    if playbooks is None:
        context["facts"] = None  # which facts exist is the playbooks' to say
    problems.extend(fragment_name_problems(renderer, {language: context}, files=[source]))
    return problems


def config_file(path: Path) -> bool:
    """``replies/config.toml``: who signs the replies (checked when the playbooks load)."""
    return path.name == "config.toml"


def json_schema(kind: Literal["playbook", "incident"] = "playbook") -> dict[str, Any]:
    """The JSON Schema of a playbook file or of an incident.

    Args:
        kind: ``playbook`` (the TOML format of playbooks) or ``incident``.

    Returns:
        A JSON Schema (draft 2020-12) as a dict.
    """
    model = PlaybookFile if kind == "playbook" else Incident
    title = "cxplay playbook" if kind == "playbook" else "cxplay incident"
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **model.model_json_schema(),
        "title": title,
    }


# --------------------------------------------------------------------------- replies

_SAMPLE_NAMES = {"en": "Anna Smith", "pl": "Anna Kowalska", "uk": "Олена Петренко"}
_SAMPLE_FACTS: Mapping[str, Any] = {
    "string": "sample",
    "number": 3,
    "integer": 3,
    "boolean": True,
    "list": ["sample"],
}


def _sample_incident(incident_type: str, language: str, facts: Mapping[str, Any]) -> Incident:
    """An incident with every field set, for test renders."""
    return Incident.model_validate(
        {
            "type": incident_type,
            "occurred_at": "2026-11-20T09:15:00+01:00",
            "customer": {"name": _SAMPLE_NAMES[language], "language": language},
            "order": {"id": "PL-5531", "value": 249.99, "currency": "PLN"},
            "event": {"id": "cxconf", "session": "Keynote", "speaker": "Jan Nowak"},
            "facts": facts,
        }
    )


# Fragments under these sections ([notice], [notice_speaker_late], ...) are not replies:
# `cxplay plan` renders them with the event's context (cxplay/_events/plan.py).
_NOT_REPLIES = ("notice",)
# What an action's fragment sees besides the reply context: `action` (its kind, parameters,
# cost) and, at the top level, each parameter of the action (names vary by kind).
_ACTION_NAMES = frozenset({"action", "kind", "params", "cost", "cost_text", "options"})
_PARAMETERS = frozenset(
    name for member in typing.get_args(typing.get_args(Action)[0]) for name in member.model_fields
)


def _assigned(tree: nodes.Template) -> set[str]:
    """Names a fragment sets itself: ``{% set %}``, loop variables, macro arguments."""
    found: set[str] = set()
    for node in tree.find_all((nodes.Assign, nodes.AssignBlock, nodes.For, nodes.Macro)):
        if isinstance(node, nodes.Macro):
            found.update(arg.name for arg in node.args)
        elif isinstance(node, nodes.Assign | nodes.AssignBlock | nodes.For):
            target = node.target
            found.update(n.name for n in target.find_all(nodes.Name))
            if isinstance(target, nodes.Name):
                found.add(target.name)
    return found


def _lookup(node: nodes.Node) -> tuple[str | None, nodes.Name | None]:
    """``customer.name`` or ``customer['name']``: the key and the variable, else Nones."""
    if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name):
        return node.attr, node.node
    if (
        isinstance(node, nodes.Getitem)
        and isinstance(node.node, nodes.Name)
        and isinstance(node.arg, nodes.Const)
        and isinstance(node.arg.value, str)
    ):
        return node.arg.value, node.node
    return None, None


def fragment_name_problems(
    renderer: Renderer,
    contexts: Mapping[str, Mapping[str, Any]],
    *,
    files: Sequence[str] | None = None,
) -> list[Problem]:
    """Undefined names in every branch of every reply fragment, found without rendering.

    A test render only takes the branches its sample data leads to; a typo in another
    (``{% if facts.vip %}{{ customer.nmae }}{% endif %}``) would reach a customer first.
    Each fragment's syntax tree is walked instead: every top-level name must be in the
    reply context of its language or the environment's globals, and ``customer.x`` or
    ``order["x"]`` must name a key that context value has.

    Args:
        renderer: the catalogs.
        contexts: a sample reply context (:meth:`Renderer.context`) per language: its keys,
            and the keys of its dict values, are the names a fragment may use.
        files: only fragments defined in these catalog files (all when None).
    """
    problems: list[Problem] = []
    env = renderer.environment
    for language in renderer.languages:
        context = contexts.get(language)
        if context is None:
            continue
        known = set(context) | set(env.globals) | _ACTION_NAMES | _PARAMETERS | {"loop"}
        for name, source in renderer.names(language).items():
            if name.startswith(_NOT_REPLIES):
                continue
            file, _, first = renderer.origin[(language, name)].rpartition(":")
            if files is not None and file not in files:
                continue
            try:
                tree = env.parse(source)
            except TemplateSyntaxError:
                continue  # reported by the compile check
            local = _assigned(tree)
            found: list[tuple[int, str]] = []
            for undeclared in sorted(meta.find_undeclared_variables(tree) - known - local):
                line = next(
                    (n.lineno for n in tree.find_all(nodes.Name) if n.name == undeclared), 1
                )
                hint = did_you_mean(undeclared, known)
                found.append((line, f"undefined name {echo(undeclared)}{hint}"))
            for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
                key, owner = _lookup(node)
                if owner is None or key is None or owner.name in local:
                    continue
                value = context.get(owner.name)
                if isinstance(value, Mapping) and key not in value:
                    if isinstance(node, nodes.Getattr) and hasattr(value, key):
                        continue  # a dict method: facts.get('x'), contact.items()
                    hint = did_you_mean(key, [str(k) for k in value])
                    found.append((node.lineno, f"{owner.name} has no {echo(key)}{hint}"))
            for line, message in sorted(set(found)):
                problems.append(
                    Problem(
                        message,
                        file=file,
                        line=int(first) + line - 1,
                        key=f"{name} ({language})",
                    )
                )
    return problems


def catalog_completeness(renderer: Renderer, languages: Sequence[str]) -> list[Problem]:
    """Fragments one language of the playbooks has and another lacks, a line per section.

    A catalog that misses a section another language has (``[situation]`` in
    ``parcel.en.toml`` but not in ``parcel.pl.toml``) gives Polish customers a reply
    without it -- or, for a fragment with a generic fallback, a vaguer one.
    """
    problems: list[Problem] = []
    present = [lang for lang in languages if lang in renderer.languages]
    for missing in present:
        have = renderer.names(missing)
        lacking: dict[tuple[str, str], list[str]] = {}  # (other file, section) -> names
        for other in present:
            if other == missing:
                continue
            for name in renderer.names(other):
                if name in have:
                    continue
                origin = renderer.origin[(other, name)]
                section = name.split(".", 1)[0].split("@", 1)[0]
                names = lacking.setdefault((origin.rpartition(":")[0], section), [])
                if name not in names and not any(
                    name in n for (f, _), n in lacking.items() if f != origin.rpartition(":")[0]
                ):
                    names.append(name)
        for (source, section), names in lacking.items():
            if not names:
                continue
            source_path = Path(source)
            stem = source_path.name.split(".", 1)[0]
            target = source_path.with_name(f"{stem}.{missing}.toml")
            first = renderer.origin[(_language_of(source_path), names[0])]
            if len(names) == 1:
                message = f"no fragment '{names[0]}', which {first} has"
            else:
                listed = ", ".join(names[:4]) + (
                    f" and {len(names) - 4} more" if len(names) > 4 else ""
                )
                message = (
                    f"section [{section}] lacks {len(names)} fragments that {source} has: {listed}"
                )
            problems.append(
                Problem(
                    message
                    if target.is_file()
                    else f"no {missing} catalog {target.name}: {message}",
                    file=str(target if target.is_file() else source_path),
                    key=f"{section} ({missing})",
                )
            )
    return problems


def _language_of(catalog: Path) -> str:
    return catalog.name.rsplit(".", 2)[-2]


def _fragment_names(action: Any) -> list[str]:
    """Fragments an action needs: its own and, for a plan B, one per option."""
    if action.template:
        names = [action.template]
    elif action.kind == "inform":
        names = [f"inform.{action.topic}"]
    elif action.kind == "gesture":
        names = [f"gesture.{action.item}"]
    else:
        names = [action.kind]
    if action.kind == "plan_b":
        names += [f"option.{option}" for option in action.options]
    return names


#: Where :func:`check_replies` leaves the renderer it checked, for validate_playbooks to keep.
_KEEP: contextvars.ContextVar[list[Renderer] | None] = contextvars.ContextVar(
    "cxplay_keep_renderer", default=None
)


def check_replies(playbooks: PlaybookSet) -> list[Problem]:
    """Everything about replies that can be known before a customer sees one.

    Every fragment compiles; every declared language has templates; every action of every
    rule has its fragment in every declared language; every action fragment renders in
    every language x channel with a sample incident (undefined variables are errors);
    every scenario renders in every language x channel, its SMS fits in 3 segments and its
    public reply shows no amount, currency, percentage or offer.
    """
    # Imported here: the engine imports this module to render replies.
    from cxplay._engine.engine import Engine, replies_dirs

    problems: list[Problem] = []
    dirs = replies_dirs(playbooks)
    if not dirs:
        where = str(playbooks.files[0].parent) if playbooks.files else None
        return [
            Problem("no replies/ directory with reply templates beside the playbooks", file=where)
        ]
    try:
        renderer = Renderer(dirs)
    except TemplateError as exc:
        return list(exc.problems)
    problems.extend(renderer.load_all())
    keep = _KEEP.get()
    if keep is not None:
        keep.append(renderer)
    playbooks = replace(playbooks, replies=renderer)  # the sample renders below use it
    for language in renderer.languages:
        for name in renderer.names(language):
            try:
                renderer.template(language, name)
            except TemplateError as exc:
                problems.extend(exc.problems)
    declared: list[str] = sorted({lang for p in playbooks.playbooks for lang in p.meta.languages})
    for playbook in playbooks.playbooks:
        for language in playbook.meta.languages:
            if language not in renderer.languages:
                problems.append(
                    Problem(
                        f"language '{language}' is declared but has no reply templates",
                        file=playbook.source,
                        key="playbook.languages",
                    )
                )
    if problems:
        return problems

    for compiled in playbooks.rules:
        meta = compiled.playbook.meta
        for number, action in enumerate(compiled.rule.actions):
            for language in meta.languages:
                for name in _fragment_names(action):
                    if not renderer.has(language, name):
                        problems.append(
                            Problem(
                                f"no reply fragment '{name}' in {language}",
                                file=compiled.playbook.source,
                                line=compiled.line,
                                rule=compiled.id,
                                key=f"actions[{number}]",
                            )
                        )
    if problems:
        return problems
    problems.extend(catalog_completeness(renderer, declared))

    engine = Engine(playbooks, backend="python")
    facts = {name: _SAMPLE_FACTS[spec.type] for name, spec in playbooks.facts.items()}
    contexts = {
        language: dict(
            renderer.context(
                _sample_incident("sample_incident", language, facts),
                ReplyContext(actions=(), languages=declared, default_language=language),
                language,
                "email",
            )
        )
        for language in declared
        if language in _SAMPLE_NAMES
    }
    if playbooks.root is None:  # some files of a directory: its other playbooks' facts
        for context in contexts.values():  # are unknown, so fact names are not checked
            context["facts"] = None
    problems.extend(fragment_name_problems(renderer, contexts))
    seen: set[str] = set()
    for compiled in playbooks.rules:
        meta = compiled.playbook.meta
        incident_type = sorted(compiled.types)[0] if compiled.types else "sample_incident"
        for language in meta.languages:
            sample = _sample_incident(incident_type, language, facts)
            for channel in CHANNELS:
                base = renderer.context(
                    sample,
                    ReplyContext(actions=(), languages=meta.languages, default_language=language),
                    language,
                    channel,
                )
                for action in compiled.rule.actions:
                    for approval in (False, True):
                        suggested = SuggestedAction(
                            kind=action.kind,
                            rule=compiled.id,
                            playbook=compiled.playbook.ref,
                            priority=compiled.rule.priority,
                            params=action.model_dump(
                                mode="json",
                                exclude={"kind", "dimension", "stage", "requires_approval", "note"},
                                exclude_none=True,
                            ),
                            reason=None,
                            requires_approval=approval,
                            cost=None,
                            dimension=None,
                            stage=None,
                        )
                        name = template_name(suggested)
                        key = f"{compiled.id}/{name}/{language}/{channel}/{approval}"
                        if key in seen:
                            continue
                        seen.add(key)
                        try:
                            local = renderer.action_context(suggested, language, channel, base)
                            renderer.fragment(language, name, channel, local)
                        except (RenderError, TemplateError) as exc:
                            problem = Problem(
                                f"test render failed: {exc}",
                                file=compiled.playbook.source,
                                line=compiled.line,
                                rule=compiled.id,
                            )
                            if problem not in problems:  # once, not once per channel
                                problems.append(problem)
    for playbook in playbooks.playbooks:
        for number, scenario in enumerate(playbook.tests):
            for language in playbook.meta.languages:
                for channel in CHANNELS:
                    incident = dict(scenario.incident)
                    incident["channel"] = channel
                    customer = dict(incident.get("customer", {}))
                    customer["language"] = language
                    incident["customer"] = customer
                    label = scenario.name or f"test[{number}]"
                    try:
                        reply = engine.suggest(incident, language=language).reply
                    except (RenderError, TemplateError) as exc:
                        problems.append(
                            Problem(
                                f"{language}/{channel}: {exc}", file=playbook.source, rule=label
                            )
                        )
                        continue
                    if reply is None:
                        continue
                    if channel == "sms" and (reply.segments or 0) > 3:
                        problems.append(
                            Problem(
                                f"{language}/sms: the reply takes {reply.segments} SMS segments; "
                                "keep it to 3",
                                file=playbook.source,
                                rule=label,
                            )
                        )
                    leak = public_leak(reply.body) if channel == "social_public" else None
                    if leak:
                        problems.append(
                            Problem(
                                f"{language}/social_public: a public reply shows '{leak}'",
                                file=playbook.source,
                                rule=label,
                            )
                        )
    problems.extend(notice_problems(playbooks, renderer, facts))
    return problems


def notice_problems(
    playbooks: PlaybookSet, renderer: Renderer, facts: Mapping[str, Any]
) -> list[Problem]:
    """Render each ``[[correlate]]`` notice and resolution notice like a reply.

    In every language and channel: fragments exist and render, an SMS fits in 3 segments,
    a public one shows nothing to pay.
    """
    from cxplay._watch.notices import NoticeKind, render_notice

    problems: list[Problem] = []
    for compiled in playbooks.correlations:
        meta = compiled.playbook.meta
        for language in meta.languages:
            sample = _sample_incident("sample_incident", language, facts)
            sample = sample.model_copy(
                update={"order": sample.order.model_copy(update={"carrier": "InPost"})}
            )
            for channel in CHANNELS:
                incident = sample.model_copy(update={"channel": channel})
                kinds: tuple[NoticeKind, ...] = ("notice", "resolved")
                for kind in kinds:
                    where = f"{kind}/{language}/{channel}"
                    try:
                        reply = render_notice(renderer, compiled, incident, kind)
                    except (RenderError, TemplateError) as exc:
                        message = f"{where}: {exc}"
                    else:
                        leak = public_leak(reply.body) if channel == "social_public" else None
                        if channel == "sms" and (reply.segments or 0) > 3:
                            message = f"{where}: the notice takes {reply.segments} SMS segments"
                        elif leak:
                            message = f"{where}: a public notice shows '{leak}'"
                        else:
                            continue
                    problem = Problem(
                        message, file=compiled.playbook.source, line=compiled.line, rule=compiled.id
                    )
                    if problem not in problems:
                        problems.append(problem)
    return problems
