"""The runner of the scenarios written in playbooks (``[[test]]``), and rule coverage."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cxplay._common.text import echo
from cxplay._engine.engine import Engine
from cxplay._playbooks.lint import PathsLike, _scenario_lines, _scenario_name
from cxplay._playbooks.loader import CompiledRule
from cxplay.errors import CxplayError
from cxplay.models import Scenario

__all__ = ["ScenarioReport", "ScenarioResult", "run_scenarios"]


@dataclass(frozen=True)
class ScenarioResult:
    """The outcome of one ``[[test]]``."""

    playbook: str
    source: str
    line: int | None
    name: str
    failures: tuple[str, ...]
    skipped: tuple[str, ...]
    reached: frozenset[str]

    @property
    def passed(self) -> bool:
        """Every check held."""
        return not self.failures

    @property
    def location(self) -> str:
        """``file:line`` of the scenario."""
        return self.source if self.line is None else f"{self.source}:{self.line}"


@dataclass(frozen=True)
class ScenarioReport:
    """Every scenario's result, and the rules that no scenario reaches."""

    results: tuple[ScenarioResult, ...]
    rules: tuple[CompiledRule, ...]
    unreached: tuple[CompiledRule, ...] = field(default=())

    @property
    def passed(self) -> int:
        """How many scenarios passed."""
        return sum(1 for r in self.results if r.passed)

    @property
    def failed(self) -> int:
        """How many scenarios failed."""
        return len(self.results) - self.passed


def _in_order(expected: Sequence[str], got: Sequence[str]) -> bool:
    remaining = iter(got)
    return all(any(kind == seen for seen in remaining) for kind in expected)


def _with_language(incident: Mapping[str, Any], language: str) -> dict[str, Any]:
    customer = incident.get("customer")
    customer = dict(customer) if isinstance(customer, Mapping) else {}
    customer["language"] = language
    return {**incident, "customer": customer}


def _shown(value: Any) -> str:
    if value is None:
        return "missing"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _why_not(engine: Engine, incident: Mapping[str, Any], rule_id: str) -> str:
    trace = {t.rule: t for t in engine.explain(incident)}
    found = trace.get(rule_id)
    if found is None:
        return f"expected rule '{rule_id}', but there is no such rule"
    if not found.matched:
        return (
            f"expected rule '{rule_id}', but it did not match: "
            f"{found.failed} (incident: {_shown(found.value)})"
        )
    return f"expected rule '{rule_id}', but it matched and was {found.outcome}"


def _run_one(engine: Engine, scenario: Scenario) -> tuple[list[str], list[str], set[str]]:
    failures: list[str] = []
    skipped: list[str] = []
    incident = scenario.incident
    try:
        kept = {rule.id for rule in engine.decide(incident).kept}
    except CxplayError as exc:  # an invalid incident
        return [str(exc)], skipped, set()
    try:
        suggestion = engine.suggest(incident)
    except CxplayError as exc:  # a reply that cannot be rendered: the rules still count
        return [str(exc)], skipped, kept
    kinds = [a.kind for a in suggestion.actions]
    got = ", ".join(kinds) or "no actions"
    if "expect" in scenario.model_fields_set:
        if not scenario.expect and kinds:
            failures.append(f"expected no actions, got {got}")
        elif not _in_order(scenario.expect, kinds):
            failures.append(f"expected actions {', '.join(scenario.expect)} (in order), got {got}")
    for rule_id in scenario.expect_rules:
        if rule_id not in kept:
            failures.append(_why_not(engine, incident, rule_id))
    if scenario.expect_severity is not None and suggestion.severity != scenario.expect_severity:
        failures.append(f"expected severity {scenario.expect_severity}, got {suggestion.severity}")
    for language, fragments in scenario.reply_contains.items():
        try:
            reply = engine.suggest(_with_language(incident, language)).reply
        except CxplayError as exc:
            failures.append(f"reply in {language}: {exc}")
            continue
        if reply is None:
            skipped.append(language)
            continue
        if reply.fell_back:
            failures.append(f"reply in {language}: no template, fell back to {reply.language}")
            continue
        text = f"{reply.subject or ''}\n{reply.body}"
        for fragment in fragments:
            if fragment not in text:
                failures.append(f"reply in {language} does not contain {echo(fragment)}")
    return failures, skipped, kept


def run_scenarios(
    playbooks: Engine | PathsLike = None,
) -> ScenarioReport:
    """Run the ``[[test]]`` scenarios of every playbook and measure rule coverage.

    A scenario passes when its incident produces the ``expect`` action kinds (all of them,
    in the given relative order; other actions may come between; an explicit
    ``expect = []`` means no action at all), keeps every rule of ``expect_rules``, reaches
    ``expect_severity``, and -- for each language of ``reply_contains`` -- renders a reply in
    that language (set as ``customer.language``) containing every fragment. While the
    engine renders no reply, reply checks are skipped and listed in ``skipped``.

    Args:
        playbooks: An engine, or the playbooks to load (None: the shipped ones).

    Returns:
        The results, in playbook and scenario order, and the rules no scenario kept.

    Raises:
        PlaybookError: The playbooks do not load.
    """
    engine = playbooks if isinstance(playbooks, Engine) else Engine.from_path(playbooks)
    try:
        loaded = engine.playbooks
        results: list[ScenarioResult] = []
        reached: set[str] = set()
        for playbook in loaded.playbooks:
            lines = _scenario_lines(playbook) if playbook.tests else []
            for number, scenario in enumerate(playbook.tests):
                failures, skipped, kept = _run_one(engine, scenario)
                reached |= kept
                notes = (
                    [f"reply checks ({', '.join(skipped)}) skipped: no reply was rendered"]
                    if skipped
                    else []
                )
                results.append(
                    ScenarioResult(
                        playbook=playbook.ref,
                        source=playbook.source,
                        line=lines[number],
                        name=_scenario_name(scenario, number),
                        failures=tuple(failures),
                        skipped=tuple(notes),
                        reached=frozenset(kept),
                    )
                )
        unreached = tuple(r for r in loaded.rules if r.id not in reached)
        return ScenarioReport(tuple(results), loaded.rules, unreached)
    finally:
        if engine is not playbooks:
            engine.close()
