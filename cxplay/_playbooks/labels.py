"""Human labels: what an agent reads instead of ids, in the agent's language.

A playbook declares titles for the incident types it handles, the facts it reads (with a
unit and a short help), channels and action kinds, per language, in ``[labels.<lang>]``.
The labels of a set are merged (:class:`LabelBook`) over the engine's own titles for the
channels and action kinds in en, pl and uk (``labels.toml`` beside this module), which a
playbook may override. Every place that shows an id to a person -- the
console, ``cxplay suggest``'s text, ``explain``, the report, the backtest page -- asks the
book; ids stay in JSON.

:func:`label_problems` is ``cxplay validate``'s check: a playbook that declares labels
must label, in every language it ships replies in, each incident type it names, each fact
it declares, each action kind its rules use, each channel it names and each name its
actions give (escalate's ``to``, inform's ``topic``, gesture's ``item``, plan_b's
``options``); a label for a type or fact the set does not know is reported with a
did-you-mean.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cxplay._common.text import did_you_mean, echo
from cxplay._common.toml import LineIndex, read_toml
from cxplay._conditions.parse import Cmp, In, leaves
from cxplay.errors import LoadError, Problem
from cxplay.models import ACTION_KINDS, CHANNELS, FactLabel, Labels, Playbook

__all__ = [
    "FALLBACK_LANGUAGE",
    "NAMED_PARAMS",
    "LabelBook",
    "agent_language",
    "label_problems",
    "named_values",
]

FALLBACK_LANGUAGE = "en"
_PARTS = ("types", "facts", "channels", "actions", "values", "reasons", "disruptions")
_UI_LANGUAGES = ("en", "pl", "uk")


def agent_language(environ: Mapping[str, str] | None = None) -> str:
    """The language of the person at a terminal: ``CXPLAY_LANG``, else the locale, else en."""
    env = os.environ if environ is None else environ
    for name in ("CXPLAY_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name, "").strip()
        if not value:
            continue
        primary = value.split(".")[0].split("_")[0].split("-")[0].lower()
        return primary if primary in _UI_LANGUAGES else FALLBACK_LANGUAGE
    return FALLBACK_LANGUAGE


VOCABULARY = Path(__file__).with_name("labels.toml")


@functools.cache
def _vocabulary() -> dict[str, Labels]:
    """The engine's own titles for channels and action kinds (``labels.toml``), per language."""
    data, _ = read_toml(VOCABULARY)
    return {language: Labels.model_validate(parts) for language, parts in data.items()}


class LabelBook:
    """The merged labels of a playbook set; a missing label falls back to English, then the id."""

    def __init__(self, playbooks: Iterable[Playbook]) -> None:
        merged: dict[str, dict[str, dict[str, Any]]] = {}
        for playbook in playbooks:
            for language, labels in playbook.labels.items():
                book = merged.setdefault(
                    language,
                    {part: {} for part in _PARTS},
                )
                for part in book:  # the first playbook to label an id wins
                    for key, value in getattr(labels, part).items():
                        book[part].setdefault(key, value)
        for language, parts in _vocabulary().items():  # under the playbooks' own titles
            book = merged.setdefault(
                language,
                {part: {} for part in _PARTS},
            )
            for part in ("channels", "actions"):
                for key, value in getattr(parts, part).items():
                    book[part].setdefault(key, value)
        self._books = merged  # language -> part (types, facts, ...) -> id -> label

    @property
    def languages(self) -> tuple[str, ...]:
        """The languages some playbook declares labels in."""
        return tuple(sorted(self._books))

    def _find(self, part: str, key: str, language: str) -> Any:
        for lang in (language, FALLBACK_LANGUAGE):
            book = self._books.get(lang)
            if book is not None and key in book[part]:
                return book[part][key]
        return None

    def type(self, type_id: str, language: str) -> str:
        """The incident type's title, else its id."""
        found = self._find("types", type_id, language)
        return str(found) if found is not None else type_id

    def fact(self, name: str, language: str) -> FactLabel | None:
        """The fact's title, unit and help, or None."""
        found = self._find("facts", name, language)
        return found if isinstance(found, FactLabel) else None

    def fact_title(self, name: str, language: str) -> str:
        """The fact's title, else its name."""
        found = self.fact(name, language)
        return found.title if found is not None else name

    def channel(self, channel: str, language: str) -> str:
        """The channel's title, else its id."""
        found = self._find("channels", channel, language)
        return str(found) if found is not None else channel

    def action(self, kind: str, language: str) -> str:
        """The action kind's title, else the kind."""
        found = self._find("actions", kind, language)
        return str(found) if found is not None else kind

    def value(self, value: str, language: str) -> str:
        """An action parameter's value in words (``shift_manager``), else the value."""
        found = self._find("values", value, language)
        return str(found) if found is not None else value

    def reason(self, rule_id: str, language: str, written: str | None) -> str | None:
        """A rule's (or correlation's) reason in ``language``: its label, else as written.

        ``written`` is the ``reason`` of the rule, in its playbook's default language.
        """
        book = self._books.get(language)
        found = book["reasons"].get(rule_id) if book is not None else None
        return str(found) if found is not None else written

    def disruption(self, correlation_id: str, language: str, written: str | None) -> str | None:
        """A ``[[correlate]]`` block's title in ``language``: its label, else as written."""
        book = self._books.get(language)
        found = book["disruptions"].get(correlation_id) if book is not None else None
        return str(found) if found is not None else written

    def has(self, part: str, key: str, language: str) -> bool:
        """Whether ``language`` itself (no fallback) labels ``key`` in ``part``."""
        book = self._books.get(language)
        return book is not None and key in book[part]

    def for_language(
        self, language: str, types: Iterable[str], facts: Iterable[str]
    ) -> dict[str, Any]:
        """Every label a page needs, resolved for ``language`` (JSON-ready)."""
        out: dict[str, Any] = {
            "types": {t: self.type(t, language) for t in types},
            "channels": {c: self.channel(c, language) for c in CHANNELS},
            "actions": {k: self.action(k, language) for k in ACTION_KINDS},
            "values": {
                **self._books.get(FALLBACK_LANGUAGE, {}).get("values", {}),
                **self._books.get(language, {}).get("values", {}),
            },
            "facts": {},
            "reasons": dict(self._books.get(language, {}).get("reasons", {})),
            "disruptions": dict(self._books.get(language, {}).get("disruptions", {})),
        }
        for name in facts:
            label = self.fact(name, language)
            out["facts"][name] = (
                label.model_dump() if label else {"title": name, "unit": None, "help": None}
            )
        return out


# --------------------------------------------------------------------------- validate


def _named_types(playbook: Playbook, set_types: Mapping[str, frozenset[str] | None]) -> set[str]:
    named: set[str] = set()
    for rule in playbook.rules:
        named.update(set_types.get(rule.id) or ())
    for spec in playbook.facts.values():
        named.update(spec.required_for)
    return named


#: Action parameters whose values are names a person reads (move_private's `to` is a channel).
NAMED_PARAMS = ("to", "topic", "item", "options")


def named_values(playbook: Playbook) -> set[str]:
    """The values of the action parameters an agent reads, as the playbook's rules give them."""
    found: set[str] = set()
    for rule in playbook.rules:
        for action in rule.actions:
            if action.kind == "move_private":
                continue
            for name in NAMED_PARAMS:
                value = getattr(action, name, None)
                if isinstance(value, str):
                    found.add(value)
                elif isinstance(value, list):
                    found.update(v for v in value if isinstance(v, str))
    return found


def _named_channels(playbook: Playbook, conditions: Mapping[str, Any]) -> set[str]:
    named = set(playbook.sla)
    for rule in playbook.rules:
        condition = conditions.get(rule.id)
        if condition is None:
            continue
        for leaf in leaves(condition):
            if leaf.path != "channel":
                continue
            if isinstance(leaf, Cmp) and isinstance(leaf.value, str):
                named.add(leaf.value)
            elif isinstance(leaf, In):
                named.update(v for v in leaf.values if isinstance(v, str))
    return named & set(CHANNELS)


def label_problems(playbooks: Any) -> list[Problem]:
    """What ``cxplay validate`` says about labels (see the module's docstring).

    Args:
        playbooks: A loaded :class:`~cxplay._playbooks.loader.PlaybookSet`.
    """
    book: LabelBook = playbooks.labels
    types_of = {compiled.id: compiled.types for compiled in playbooks.rules}
    conditions = {compiled.id: compiled.condition for compiled in playbooks.rules}
    known_types = set(playbooks.incident_types())
    known_facts = set(playbooks.facts)
    problems: list[Problem] = []
    for playbook in playbooks.playbooks:
        if not playbook.labels:
            continue
        try:
            index: LineIndex | None = read_toml(Path(playbook.source))[1]
        except LoadError:  # the file changed since it was loaded: no line numbers
            index = None

        def line(loc: tuple[str, ...], index: LineIndex | None = index) -> int | None:
            return None if index is None else index.line(loc)

        for language, labels in playbook.labels.items():
            for type_id in labels.types:
                if type_id not in known_types:
                    problems.append(
                        Problem(
                            f"a label for the incident type {echo(type_id)}, which no rule "
                            f"names{did_you_mean(type_id, known_types)}",
                            file=playbook.source,
                            line=line(("labels", language, "types", type_id)),
                            key=f"labels.{language}.types",
                        )
                    )
            for fact in labels.facts:
                if fact not in known_facts:
                    problems.append(
                        Problem(
                            f"a label for the fact {echo(fact)}, which no playbook declares"
                            f"{did_you_mean(fact, known_facts)}",
                            file=playbook.source,
                            line=line(("labels", language, "facts", fact)),
                            key=f"labels.{language}.facts",
                        )
                    )
        wanted = {
            "types": sorted(_named_types(playbook, types_of)),
            "facts": sorted(playbook.facts),
            "actions": sorted({action.kind for rule in playbook.rules for action in rule.actions}),
            "channels": sorted(_named_channels(playbook, conditions)),
            "values": sorted(named_values(playbook)),
        }
        # what the playbook writes in its default language: its rules' and correlations'
        # reasons, its correlations' titles; every other language it ships needs them
        written = {
            "reasons": sorted(
                {r.id for r in playbook.rules if r.reason}
                | {c.id for c in playbook.correlations if c.reason}
            ),
            "disruptions": sorted(c.id for c in playbook.correlations if c.title),
        }
        owned = {r.id for r in playbook.rules} | {c.id for c in playbook.correlations}
        for language, labels in playbook.labels.items():
            for part in ("reasons", "disruptions"):
                for ident in getattr(labels, part):
                    if ident not in written[part]:
                        what = "rule or correlation" if part == "reasons" else "correlation"
                        has = "a reason" if part == "reasons" else "a title"
                        problems.append(
                            Problem(
                                f"a translated {part[:-1]} for {echo(ident)}, which is no "
                                f"{what} of this playbook with {has}"
                                f"{did_you_mean(ident, written[part] or sorted(owned))}",
                                file=playbook.source,
                                line=line(("labels", language, part, ident)),
                                key=f"labels.{language}.{part}",
                            )
                        )
        table_line = line(("labels",))
        for language in playbook.meta.languages:
            here = playbook.labels.get(language)
            gaps = [
                (part, [i for i in ids if not book.has(part, i, language)])
                for part, ids in wanted.items()
            ]
            if language != playbook.meta.default_language:
                gaps += [
                    (part, [i for i in ids if here is None or i not in getattr(here, part)])
                    for part, ids in written.items()
                ]
            problems.extend(
                Problem(
                    f"no {language} label for {len(missing)} of its {part} "
                    f"(add them to [labels.{language}.{part}]): {', '.join(missing)}",
                    file=playbook.source,
                    line=line(("labels", language)) or table_line,
                    key=f"labels ({language})",
                )
                for part, missing in gaps
                if missing
            )
    return problems
