"""Presenters: results as text for a person, JSON for programs, Markdown for a ticket.

Every function here is pure: it takes a result of the library and returns the text to
show. Only the CLI writes that text to a stream. Colour is decided once per stream by
:func:`color_enabled` and passed in; without it no escape code is ever produced.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import IO, TYPE_CHECKING, Any, Literal

import click

from cxplay._common.lazy import lazy_pattern
from cxplay._playbooks.labels import LabelBook
from cxplay._playbooks.loader import PlaybookSet
from cxplay.errors import CxplayError, PlaybookError
from cxplay.models import Playbook
from cxplay.results import FollowUpPlan, Reply, RuleTrace, SuggestedAction, Suggestion

if TYPE_CHECKING:  # imported only by the commands that need them (start-up time)
    from cxplay._events.plan import Freshness, OfflineAnswer, Plan
    from cxplay._playbooks.journey import JourneyMap
    from cxplay._playbooks.lint import ValidationReport
    from cxplay._playbooks.scenarios import ScenarioReport

__all__ = [
    "Format",
    "color_enabled",
    "error_lines",
    "journey",
    "offline_answer",
    "plan_freshness",
    "playbook_detail",
    "playbook_list",
    "scenario_report",
    "schema",
    "suggestion",
    "suggestion_json",
    "suggestion_markdown",
    "suggestion_text",
    "terminal_safe",
    "trace_text",
    "validation",
]

Format = Literal["text", "json", "markdown"]

_RULE = "─" * 60
_ACTION_TAGS = ("template", "dimension", "stage", "requires_approval", "note")
_SEVERITY_COLOURS = {"low": "green", "medium": "yellow", "high": "red", "critical": "red"}


def color_enabled(stream: IO[Any], environ: Mapping[str, str] | None = None) -> bool:
    """Colour only on a terminal, and never when ``NO_COLOR`` is set (https://no-color.org).

    Args:
        stream: The stream the text goes to.
        environ: The environment (default: ``os.environ``).

    Returns:
        Whether to style the text written to ``stream``.
    """
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class _Style:
    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, text: str, **styles: Any) -> str:
        return click.style(text, **styles) if self.color else text

    def bold(self, text: str) -> str:
        return self(text, bold=True)

    def dim(self, text: str) -> str:
        return self(text, dim=True)


# --------------------------------------------------------------------------- safety

# What a terminal would act on instead of showing: C0 controls but tab and newline (ESC
# starts a sequence that moves the cursor, rewrites the title or the clipboard; CR
# overwrites a line), DEL, C1 controls (U+009B is a one-character CSI) and lone
# surrogates (which cannot be written at all). Group 1: a colour (SGR) sequence.
_UNSAFE = lazy_pattern(
    globals(), "_UNSAFE", r"(\x1b\[[0-9;]*m)|[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]"
)
_UNSAFE_IN_JSON = lazy_pattern(globals(), "_UNSAFE_IN_JSON", r"[\x7f-\x9f\ud800-\udfff]")


def _visible(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: str, *, keep_style: bool = False) -> str:
    r"""``text`` with every control character a terminal would act on shown as an escape.

    Whatever a template, a playbook or an incident put in the text, the presenter's output
    cannot move the cursor, retitle the window or hide a line: ``\x1b``, ``\x9b``,
    ``\r`` are printed as such. ``keep_style`` keeps colour sequences (SGR, ``ESC[...m``,
    which only colour text): the presenter's own styling.
    """
    if _UNSAFE.search(text) is None:
        return text

    def shown(found: re.Match[str]) -> str:
        if found.group(1) is not None:
            sequence = found.group(1)
            return sequence if keep_style else _visible(sequence[0]) + sequence[1:]
        return _visible(found.group())

    return _UNSAFE.sub(shown, text)


def _json_safe(text: str) -> str:
    r"""JSON text with C1 controls and lone surrogates as ``\uXXXX`` escapes (same data)."""
    if _UNSAFE_IN_JSON.search(text) is None:
        return text
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


# --------------------------------------------------------------------------- values


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _value(value: Any) -> str:
    """A value as the condition language writes it."""
    if value is None:
        return "missing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {_value(v)}" for k, v in value.items())
    return json.dumps(value, ensure_ascii=False)


def _param(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return _value(value)
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, list):
        return ",".join(_param(v) for v in value)
    return str(value)


#: Parameters the text and Markdown views leave out: why a person decides gets its own
#: line, and the reply fragment an action is said with is the reply's business, not the
#: agent's (both stay in the JSON).
_UNSHOWN = frozenset({"approval_because", "template"})


def _shown(params: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters as listed after the kind."""
    return {k: v for k, v in params.items() if k not in _UNSHOWN}


def _params(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={_param(v)}" for k, v in params.items())


def _when(moment: datetime) -> str:
    text = moment.strftime("%Y-%m-%d %H:%M")
    offset = moment.strftime("%z")
    if offset:
        text += f" {offset[:3]}:{offset[3:]}"
    return text


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes = rest // 60
    parts = [
        _plural(n, unit) for n, unit in ((days, "day"), (hours, "hour"), (minutes, "minute")) if n
    ]
    return " ".join(parts) or f"{seconds} seconds"


def _cost(action: SuggestedAction) -> str:
    if action.cost is None:
        return ""
    amount = f"{action.cost.amount:.2f}"
    return f"{amount} {action.cost.currency}" if action.cost.currency else amount


class _Names:
    """Ids as a person reads them: the playbooks' labels in ``language``, else the ids."""

    def __init__(self, labels: LabelBook | None, language: str) -> None:
        self.labels, self.language = labels, language

    def action(self, kind: str) -> str:
        return self.labels.action(kind, self.language) if self.labels else kind

    def channel(self, channel: str) -> str:
        return self.labels.channel(channel, self.language) if self.labels else channel

    def reason(self, rule: str, written: str | None) -> str | None:
        """The rule's reason in the agent's language (``[labels.<lang>.reasons]``)."""
        return self.labels.reason(rule, self.language, written) if self.labels else written


def _follow_up(plan: FollowUpPlan, names: _Names | None = None) -> str:
    if names is not None and names.labels is not None:
        what = names.action(plan.action)
    else:
        what = plan.action.replace("_", " ")
    if plan.survey:
        what += f" ({plan.survey})"
    elif plan.purpose:
        what += f" ({plan.purpose})"
    if plan.channel:
        what += f" by {names.channel(plan.channel) if names else plan.channel}"
    what += f" in {_duration(plan.after)}"
    if plan.due is not None:
        what += f", due {_when(plan.due)}"
    return what


def _reply_heading(reply: Reply, names: _Names | None = None) -> str:
    notes = [reply.language, names.channel(reply.channel) if names else reply.channel]
    if reply.fell_back:
        notes.append("fell back: no template in the customer's language")
    if reply.segments is not None:
        notes.append(_plural(reply.segments, "SMS segment"))
    return ", ".join(notes)


def _failure(trace: RuleTrace) -> str:
    return f"failed: {trace.failed} (incident: {_value(trace.value)})"


# --------------------------------------------------------------------------- suggestion


def _history(result: Suggestion) -> str:
    """``2 compensations in 90 days (from the log: 300.00 PLN)``."""
    history = result.history
    assert history is not None
    text = _plural(history.compensations_90d, "compensation") + " in 90 days"
    if history.source == "incident":
        return text + " (as given)"
    amounts = ", ".join(
        f"{_number(c.amount)} {c.currency}" if c.currency else _number(c.amount)
        for c in history.amounts_90d
    )
    return text + (f" (from the log: {amounts})" if amounts else " (from the log)")


def suggestion_text(
    result: Suggestion,
    *,
    color: bool = False,
    labels: LabelBook | None = None,
    language: str = "en",
) -> str:
    """A suggestion for a person at a terminal: severity, actions, reply, respond-by.

    Args:
        result: The suggestion.
        color: Style the text with ANSI colours.
        labels: The playbooks' labels: action kinds and channels are shown by their title
            in ``language`` (the rule id still cites where each comes from).
        language: The agent's language for the labels.

    Returns:
        The text, without a trailing newline.
    """
    style = _Style(color)
    names = _Names(labels, language)
    lines: list[str] = []
    if result.incident_id:
        lines.append(f"Incident    {result.incident_id}")
    severity = style(result.severity, fg=_SEVERITY_COLOURS[result.severity], bold=True)
    lines.append(f"Severity    {severity}")
    if result.respond_by is not None:
        lines.append(f"Respond by  {style.bold(_when(result.respond_by))}")
    if result.history is not None:
        lines.append(f"History     {_history(result)}")
    if result.decision_id is not None:
        lines.append(f"Decision    {result.decision_id}")
    lines.append("")
    if not result.actions:
        lines.append(style("No rule matched this incident.", fg="yellow"))
    else:
        lines.append(style.bold("Actions"))
        previous_reason: str | None = None  # a reason shared by consecutive actions: once
        for number, action in enumerate(result.actions, start=1):
            head = f"  {number}. {style.bold(names.action(action.kind))}"
            shown = _shown(action.params)
            if shown:
                head += f"  {_params(shown)}"
            if action.cost is not None:
                head += f"  cost {_cost(action)}"
            if action.requires_approval:
                head += "  " + style("needs approval", fg="yellow", bold=True)
            lines.append(head)
            if "approval_because" in action.params:
                lines.append(f"     a person decides: {action.params['approval_because']}")
            reason = names.reason(action.rule, action.reason)
            if reason and reason != previous_reason:
                lines.append(f"     {reason}")
            previous_reason = reason
            about = [action.playbook, f"priority {action.priority}"]
            about += [t for t in (action.dimension, action.stage) if t]
            lines.append("     " + style.dim(f"via {action.rule} ({', '.join(about)})"))
    if result.follow_ups:
        lines += ["", style.bold("Follow-ups")]
        lines += [f"  - {_follow_up(plan, names)}" for plan in result.follow_ups]
    if result.reply is not None:
        reply = result.reply
        heading = _reply_heading(reply, names)
        lines += ["", style.bold(f"Reply ({heading}), ready to copy:"), _RULE]
        if reply.subject:
            lines += [f"Subject: {reply.subject}", ""]
        lines += [reply.body.rstrip("\n"), _RULE]
    if result.trace is not None:
        lines += ["", trace_text(result.trace, color=color)]
    return terminal_safe("\n".join(lines), keep_style=color)


def trace_text(traces: Sequence[RuleTrace], *, color: bool = False) -> str:
    """Every rule with ✓ (matched, and what became of it) or ✗ (the failing condition).

    Args:
        traces: The trace of a suggestion.
        color: Style the text with ANSI colours.

    Returns:
        The text, without a trailing newline.
    """
    style = _Style(color)
    matched = sum(1 for t in traces if t.matched)
    lines = [style.bold(f"Rules ({matched} of {len(traces)} matched)")]
    width = max((len(t.rule) for t in traces), default=0)
    for trace in traces:
        name = trace.rule.ljust(width)
        if trace.matched:
            lines.append(f"  {style('✓', fg='green')} {name}  {trace.outcome or 'matched'}")
        else:
            lines.append(f"  {style('✗', fg='red')} {name}  {_failure(trace)}")
    return terminal_safe("\n".join(lines), keep_style=color)


def suggestion_json(result: Suggestion) -> str:
    """The Suggestion contract: ``model_dump(mode="json")``, fields in model order, indent 2.

    Args:
        result: The suggestion.

    Returns:
        The JSON document, without a trailing newline.
    """
    return _json_safe(json.dumps(result.model_dump(mode="json"), indent=2, ensure_ascii=False))


def _md(text: str) -> str:
    """Text safe inside Markdown (and inside a table cell)."""
    for char in "\\`*_[]<>#|":
        text = text.replace(char, "\\" + char)
    return " ".join(text.splitlines())


def _code(text: str) -> str:
    """A code span for a table cell (GFM splits cells at '|', even inside code)."""
    text = " ".join(text.splitlines()).replace("|", "\\|")
    longest = run = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _fenced(text: str) -> list[str]:
    longest = max((len(line) - len(line.lstrip("`")) for line in text.splitlines()), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}text", text.rstrip("\n"), fence]


def suggestion_markdown(
    result: Suggestion, labels: LabelBook | None = None, language: str = "en"
) -> str:
    """A suggestion to paste into a ticket: a table of actions, the reply in a code block.

    Args:
        result: The suggestion.
        labels: The playbooks' labels: action kinds and channels by title in ``language``.
        language: The agent's language for the labels.

    Returns:
        The Markdown text, without a trailing newline.
    """
    names = _Names(labels, language)
    title = "### Recovery plan"
    if result.incident_id:
        title += f" for {_md(result.incident_id)}"
    facts = [f"**Severity:** {result.severity}"]
    if result.respond_by is not None:
        facts.append(f"**Respond by:** {_when(result.respond_by)}")
    if result.history is not None:
        facts.append(f"**History:** {_md(_history(result))}")
    if result.decision_id is not None:
        facts.append(f"**Decision:** `{result.decision_id}`")
    lines = [title, "", " · ".join(facts), ""]
    if not result.actions:
        lines.append("No rule matched this incident.")
    else:
        lines += [
            "| # | Action | Details | Cost | Approval | Why |",
            "|---|--------|---------|------|----------|-----|",
        ]
        for number, action in enumerate(result.actions, start=1):
            reason = names.reason(action.rule, action.reason)
            why = f"{_md(reason)} " if reason else ""
            why += f"({_code(action.rule)})"
            approval = "**needs approval**" if action.requires_approval else "no"
            if "approval_because" in action.params:
                approval += f": {_md(str(action.params['approval_because']))}"
            shown = _shown(action.params)
            details = _code(_params(shown)) if shown else ""
            lines.append(
                f"| {number} | {_md(names.action(action.kind))} | {details} "
                f"| {_md(_cost(action))} | {approval} | {why} |"
            )
    if result.follow_ups:
        lines += ["", "**Follow-ups**", ""]
        lines += [f"- {_md(_follow_up(plan, names))}" for plan in result.follow_ups]
    if result.reply is not None:
        reply = result.reply
        lines += ["", f"**Reply** ({_md(_reply_heading(reply, names))})", ""]
        if reply.subject:
            lines += [f"**Subject:** {_md(reply.subject)}", ""]
        lines += _fenced(reply.body)
    if result.trace is not None:
        matched = sum(1 for t in result.trace if t.matched)
        lines += ["", f"**Rules** ({matched} of {len(result.trace)} matched)", ""]
        lines += ["| | Rule | Result |", "|---|------|--------|"]
        for trace in result.trace:
            if trace.matched:
                outcome = _md(trace.outcome or "matched")
                lines.append(f"| ✓ | {_code(trace.rule)} | {outcome} |")
            else:
                failed = _code(trace.failed or trace.condition)
                value = _code(_value(trace.value))
                lines.append(f"| ✗ | {_code(trace.rule)} | failed: {failed} (incident: {value}) |")
    return terminal_safe("\n".join(lines))


def suggestion(
    result: Suggestion,
    fmt: Format,
    *,
    color: bool = False,
    labels: LabelBook | None = None,
    language: str = "en",
) -> str:
    """A suggestion in one of the formats of ``--format``.

    Args:
        result: The suggestion.
        fmt: ``text``, ``json`` or ``markdown``.
        color: Style text output with ANSI colours (ignored by the other formats).
        labels: The playbooks' labels for the text format (JSON keeps ids).
        language: The agent's language for the labels.

    Returns:
        The rendered suggestion, without a trailing newline.
    """
    renderers: dict[str, Callable[[Suggestion], str]] = {
        "json": suggestion_json,
        "markdown": lambda s: suggestion_markdown(s, labels, language),
        "text": lambda s: suggestion_text(s, color=color, labels=labels, language=language),
    }
    return renderers[fmt](result)


# --------------------------------------------------------------------------- plans


def offline_answer(plan: Plan, answer: OfflineAnswer, fmt: Format) -> str:
    """An answer from a preloaded plan (``suggest --plan``).

    Args:
        plan: The plan that answered.
        answer: The answer.
        fmt: ``text`` for a terminal, ``markdown``, or ``json`` (the
            :class:`~cxplay._events.plan.OfflineAnswer` model, scenario included).

    Returns:
        The rendered answer, without a trailing newline.
    """
    from cxplay._events.offline import render_answer_markdown, render_answer_text

    if fmt == "json":
        return answer.model_dump_json(by_alias=True, indent=2)  # escapes every control
    if fmt == "markdown":
        return terminal_safe(render_answer_markdown(plan, answer).rstrip("\n"))
    return terminal_safe(render_answer_text(plan, answer).rstrip("\n"))


def plan_freshness(name: str, plan: Plan, result: Freshness) -> str:
    """One line: whether a plan still matches its event and playbooks."""
    built = plan.created_at.isoformat(timespec="minutes")
    return f"{name}: {result.message} (built {built}, {len(plan.scenarios)} scenarios)"


# --------------------------------------------------------------------------- errors


def error_lines(error: CxplayError) -> list[str]:
    """The ``Error: ...`` lines for an error: one per problem, the hint on the last.

    Args:
        error: Any error cxplay reports to a user.

    Returns:
        One line per problem (a plain error has one).
    """
    if isinstance(error, PlaybookError) and error.problems:
        messages = [str(p) for p in error.problems]
    else:
        messages = ["; ".join(line for line in str(error).splitlines() if line.strip())]
    if error.hint:
        messages[-1] += f" (hint: {error.hint})"
    return [f"Error: {terminal_safe(m)}" for m in messages]


# --------------------------------------------------------------------------- checks


def validation(report: ValidationReport) -> str:
    """One line per problem, or a one-line summary of what is clean.

    Args:
        report: The result of :func:`cxplay._playbooks.lint.validate_playbooks`.

    Returns:
        The text, without a trailing newline.
    """
    if report.problems:
        return "\n".join(str(p) for p in report.problems)
    loaded = report.playbooks
    parts = []
    if loaded is not None or not report.catalogs:
        playbooks = len(loaded.playbooks) if loaded else 0
        rules = len(loaded.rules) if loaded else 0
        parts = [
            _plural(playbooks, "playbook"),
            _plural(rules, "rule"),
            _plural(len(report.languages), "language"),
        ]
    if report.catalogs:
        parts.append(_plural(len(report.catalogs), "reply catalog"))
    return "ok: " + ", ".join(parts)


def scenario_report(report: ScenarioReport, *, color: bool = False) -> str:
    """A line per failure and per skipped check, ``N passed, M failed``, then rule coverage.

    Args:
        report: The result of :func:`cxplay._playbooks.scenarios.run_scenarios`.
        color: Style the text with ANSI colours.

    Returns:
        The text, without a trailing newline.
    """
    style = _Style(color)
    lines: list[str] = []
    for result in report.results:
        for failure in result.failures:
            where = style.bold(f"{result.location}: {result.name}:")
            lines.append(f"{style('FAIL', fg='red', bold=True)} {where} {failure}")
        for note in result.skipped:
            lines.append(f"{style('note', fg='yellow')} {result.location}: {result.name}: {note}")
    summary = f"{report.passed} passed, {report.failed} failed"
    if not report.results:
        summary += " (no [[test]] scenarios in these playbooks)"
    lines.append(style(summary, fg="red" if report.failed else "green", bold=True))
    total = len(report.rules)
    reached = total - len(report.unreached)
    coverage = f"coverage: {reached} of {_plural(total, 'rule')} reached by a scenario"
    if report.unreached:
        lines.append(coverage + "; not reached:")
        for rule in report.unreached:
            where = (
                rule.playbook.source if rule.line is None else f"{rule.playbook.source}:{rule.line}"
            )
            lines.append(f"  {rule.id} ({where})")
    else:
        lines.append(coverage)
    return "\n".join(lines)


# --------------------------------------------------------------------------- playbooks


def playbook_list(playbooks: PlaybookSet, fmt: Literal["text", "json"] = "text") -> str:
    """The loaded playbooks: id, version, rule count, languages, title.

    Args:
        playbooks: A loaded set of playbooks.
        fmt: ``text`` (aligned columns) or ``json`` (a list of objects).

    Returns:
        The text, without a trailing newline.
    """
    rows = [
        {
            "id": p.meta.id,
            "version": p.meta.version,
            "rules": len(p.rules),
            "tests": len(p.tests),
            "languages": list(p.meta.languages),
            "default_language": p.meta.default_language,
            "title": p.meta.title,
            "source": p.source,
        }
        for p in playbooks.playbooks
    ]
    if fmt == "json":
        return json.dumps(rows, indent=2, ensure_ascii=False)
    table = [("ID", "VERSION", "RULES", "LANGUAGES", "TITLE")]
    table += [
        (
            str(r["id"]),
            str(r["version"]),
            str(r["rules"]),
            ", ".join(p.meta.languages),
            str(r["title"] or ""),
        )
        for r, p in zip(rows, playbooks.playbooks, strict=True)
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = []
    for row in table:
        cells = [
            cell.rjust(width) if index == 2 else cell.ljust(width)
            for index, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def playbook_detail(playbook: Playbook) -> str:
    """One playbook: its settings, then each rule (priority, group, condition, actions).

    Args:
        playbook: A loaded playbook.

    Returns:
        The text, without a trailing newline.
    """
    meta = playbook.meta
    lines = [f"{meta.id} {meta.version}" + (f": {meta.title}" if meta.title else "")]
    lines.append(f"source: {playbook.source}")
    lines.append(f"languages: {', '.join(meta.languages)} (default {meta.default_language})")
    if playbook.facts:
        facts = []
        for name, spec in playbook.facts.items():
            required = f", required for {', '.join(spec.required_for)}" if spec.required_for else ""
            facts.append(f"{name} ({spec.type}{required})")
        lines.append(f"facts: {'; '.join(facts)}")
    policy = playbook.policy
    rules_of_policy = []
    if policy.approval_above is not None:
        rules_of_policy.append(f"approval above {_number(policy.approval_above)}")
    if policy.caps:
        caps = ", ".join(f"{tier} {_number(cap)}" for tier, cap in policy.caps.items())
        rules_of_policy.append(f"caps {caps}")
    if policy.repeat_claimant_after is not None:
        rules_of_policy.append(f"repeat claimant after {policy.repeat_claimant_after}")
    if policy.single_compensation:
        rules_of_policy.append("one compensation per incident")
    lines.append(f"policy: {'; '.join(rules_of_policy)}")
    if playbook.sla:
        lines.append(
            "respond within: "
            + ", ".join(
                f"{channel} {_duration(span)}"
                + (" (business time)" if channel in playbook.business else "")
                for channel, span in playbook.sla.items()
            )
        )
    if playbook.hours is not None:
        cal = playbook.hours
        open_days = [
            f"{day} "
            + ", ".join(f"{a // 60:02d}:{a % 60:02d}-{b // 60:02d}:{b % 60:02d}" for a, b in spans)
            for day, spans in zip(
                ("mon", "tue", "wed", "thu", "fri", "sat", "sun"), cal.week, strict=True
            )
            if spans
        ]
        extra = [f"holidays {', '.join(cal.countries)}"] if cal.countries else []
        if cal.exceptions:
            extra.append(f"{len(cal.exceptions)} dated exception(s)")
        lines.append(f"open ({cal.zone}): " + "; ".join(open_days + extra))
    lines.append(f"tests: {len(playbook.tests)}")
    lines += ["", f"rules ({len(playbook.rules)}, in file order):"]
    for rule, line in zip(playbook.rules, playbook.rule_lines, strict=True):
        settings = [f"priority {rule.priority}"]
        if rule.group:
            settings.append(f"group {rule.group}")
        if rule.severity:
            settings.append(f"severity {rule.severity}")
        if rule.stop:
            settings.append("stop")
        if line is not None:
            settings.append(f"line {line}")
        lines.append(f"  {rule.id}  ({', '.join(settings)})")
        lines.append(f"    when: {rule.when}")
        for action in rule.actions:
            params = action.model_dump(mode="json", exclude={"kind"}, exclude_none=True)
            # what the action does first, then how it is tagged
            tags = {k: params.pop(k) for k in _ACTION_TAGS if k in params}
            params.update(tags)
            lines.append(f"    - {action.kind}" + (f"  {_params(params)}" if params else ""))
        if rule.reason:
            lines.append(f"    reason: {rule.reason}")
    return "\n".join(lines)


def schema(document: Mapping[str, Any]) -> str:
    """A JSON Schema, indented for people and editors.

    Args:
        document: The schema.

    Returns:
        The JSON text, without a trailing newline.
    """
    return json.dumps(document, indent=2, ensure_ascii=False)


_DIMENSION_SHORT = {
    "sensory": "sens",
    "relational": "rel",
    "cognitive": "cog",
    "behavioural": "beh",
    "functional": "func",
}


def journey(result: JourneyMap, fmt: Literal["text", "markdown"] = "text") -> str:
    """The stage x dimension coverage matrix; a cell counts the rules covering it."""
    if fmt == "markdown":
        lines = [
            "| stage | " + " | ".join(result.dimensions) + " |",
            "|---|" + "---|" * len(result.dimensions),
        ]
        for stage in result.stages:
            cells = []
            for dimension in result.dimensions:
                rules = result.rules(stage, dimension)
                cells.append(", ".join(f"`{r}`" for r in rules) if rules else "**gap**")
            lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    else:
        width = max(len(s) for s in result.stages)
        heads = [_DIMENSION_SHORT.get(d, d) for d in result.dimensions]
        lines = [" " * width + "  " + "  ".join(f"{h:>5}" for h in heads)]
        for stage in result.stages:
            counts = [len(result.rules(stage, d)) for d in result.dimensions]
            row = "  ".join(f"{c:>5}" if c else f"{'-':>5}" for c in counts)
            lines.append(f"{stage:<{width}}  {row}")
        lines.append("")
        lines.append("cells count the rules with an action tagged so; '-' is a gap")
    total = len(result.stages) * len(result.dimensions)
    lines.append("")
    lines.append(f"{total - len(result.gaps)} of {total} moments covered")
    if result.untagged:
        lines.append("untagged actions: " + "; ".join(result.untagged))
    return "\n".join(lines)
