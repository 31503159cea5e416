"""A backtest report as text, Markdown, JSON or one self-contained HTML page.

Pure functions: a :class:`~cxplay._backtest.report.BacktestReport` in, the text out. The
HTML page inlines its style and its charts (SVG): it opens offline, from a CI artefact or
an e-mail attachment, and loads nothing from the network.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from cxplay._backtest.compare import CHANGES, OUTCOMES
from cxplay._backtest.report import ActionSummary, BacktestReport, Example, SideSummary
from cxplay._common.style import stylesheet
from cxplay._playbooks.labels import LabelBook

__all__ = ["ReportFormat", "render_report"]

ReportFormat = Literal["text", "markdown", "json", "html"]

_LABELS = {name: name.replace("_", " ") for name in (*OUTCOMES, *CHANGES)}
_TYPE_COLUMNS = ("incidents", "same", "changed", "error_now", "compensation_changed")


def render_report(
    report: BacktestReport, fmt: ReportFormat, labels: LabelBook | None = None
) -> str:
    """The report in ``fmt``; with the new playbooks' ``labels``, types are shown by title."""
    if fmt == "json":
        return json.dumps(report.model_dump(mode="json"), indent=2, ensure_ascii=False)
    name: Callable[[str], str] = (lambda key: labels.type(key, "en")) if labels else str
    if fmt == "markdown":
        return _markdown(report, name)
    if fmt == "html":
        return _html(report, name)
    return _text(report, name)


# --------------------------------------------------------------------------- shared


def _percent(count: int, total: int) -> str:
    return f"{100 * count / total:.1f}%" if total else "-"


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _signed(value: float) -> str:
    return f"{value:+,.2f}"


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _action(action: ActionSummary) -> str:
    text = action.kind
    if action.cost is not None:
        text += f" {_money(action.cost)} {action.currency or ''}".rstrip()
    if action.requires_approval:
        text += " (approval)"
    return text


def _side(side: SideSummary) -> str:
    if side.error is not None:
        return f"error: {side.error}"
    return ", ".join(_action(a) for a in side.actions) or "no action (no rule matched)"


def _headline(example: Example) -> str:
    changes = ", ".join(_LABELS[c] for c in example.changes) or _LABELS[example.outcome]
    delta = "; ".join(f"{c} {_signed(v)}" for c, v in example.compensation_delta.items())
    return changes + (f"; {delta}" if delta else "")


def _where(report: BacktestReport, position: int) -> str:
    return f"{report.unit} {position}"


def _summary_lines(report: BacktestReport) -> list[str]:
    total = report.incidents
    line = f"{_plural(total, 'incident')} compared"
    if report.malformed:
        line += f"; {_plural(report.malformed, 'malformed ' + report.unit)} skipped"
    return [line]


def _rules_changed(report: BacktestReport) -> list[tuple[str, int, int, int, int]]:
    return [
        (r.rule, r.baseline, r.new, r.gained, r.lost) for r in report.by_rule if r.gained or r.lost
    ]


@dataclass(frozen=True)
class _Section:
    """One table of the report, shared by the text, Markdown and HTML forms."""

    title: str
    header: tuple[str, ...]
    rows: list[tuple[str, ...]]
    bars: list[tuple[str, float, str]] = field(default_factory=list)
    note: str | None = None
    unit: str = ""
    chart_note: str | None = None  # about the chart: only where a chart is drawn (HTML)


def _sections(report: BacktestReport, type_name: Callable[[str], str] = str) -> list[_Section]:
    total = report.incidents
    classes = report.classes

    def shares(names: Sequence[str]) -> list[tuple[str, ...]]:
        return [(_LABELS[n], f"{classes[n]:,}", _percent(classes[n], total)) for n in names]

    sections = [
        _Section(
            "Outcomes",
            ("outcome", "incidents", "share"),
            shares(OUTCOMES),
            [(_LABELS[o], classes[o], _COLOURS[o]) for o in OUTCOMES],
        )
    ]
    changes = [c for c in CHANGES if classes[c]]
    if changes:
        sections.append(
            _Section(
                "Changes",
                ("change", "incidents", "share"),
                shares(changes),
                [(_LABELS[c], classes[c], _CHANGED) for c in changes],
                note="An incident may have several.",
            )
        )
    if report.compensation:
        sections.append(
            _Section(
                "Compensation",
                ("currency", "baseline", "new", "delta"),
                [
                    (m.currency, _money(m.baseline), _money(m.new), _signed(m.delta))
                    for m in report.compensation
                ],
                [
                    (m.currency, m.delta, _MORE if m.delta > 0 else _LESS)
                    for m in report.compensation
                ],
                unit=" (delta)",
            )
        )
    if report.by_type:
        sections.append(
            _Section(
                "By incident type",
                ("type", *(c.replace("_", " ") for c in _TYPE_COLUMNS)),
                [
                    (type_name(kind), *(f"{counts.get(c, 0):,}" for c in _TYPE_COLUMNS))
                    for kind, counts in report.by_type.items()
                ],
                [
                    (type_name(kind), c.get("changed", 0), _CHANGED)
                    for kind, c in report.by_type.items()
                ],
            )
        )
    rules = _rules_changed(report)
    if rules:
        sections.append(
            _Section(
                "Rules that apply to other incidents now",
                ("rule", "baseline", "new", "gained", "lost"),
                [(r, f"{b:,}", f"{n:,}", f"{g:,}", f"{lo:,}") for r, b, n, g, lo in rules],
                [(r, g - lo, _CHANGED) for r, _, _, g, lo in rules],
                chart_note="The chart shows incidents gained minus lost.",
            )
        )
    for title, errors in (
        ("Errors under the new playbooks", report.errors_new),
        ("Errors under the baseline", report.errors_baseline),
    ):
        if errors:
            sections.append(
                _Section(
                    title, ("error", "incidents"), [(e.message, f"{e.count:,}") for e in errors]
                )
            )
    return sections


def _malformed(report: BacktestReport) -> list[str]:
    lines = [f"{report.unit} {m.position}: {m.message}" for m in report.malformed_listed]
    if report.malformed > len(report.malformed_listed):
        lines.append(f"… and {report.malformed - len(report.malformed_listed):,} more")
    return lines


# --------------------------------------------------------------------------- text


def _table(rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    out = []
    for row in rows:
        cells = [
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)
        ]
        out.append(indent + "  ".join(cells).rstrip())
    return out


def _text(report: BacktestReport, type_name: Callable[[str], str] = str) -> str:
    lines = [
        f"Backtest of {report.source}",
        f"  new       {report.new}",
        f"  baseline  {report.baseline}",
        "",
        *_summary_lines(report),
    ]
    for number, section in enumerate(_sections(report, type_name)):
        if number:  # the outcomes table follows the summary line directly
            lines += ["", section.title]
            if section.note:
                lines.append(f"  {section.note}")
        rows = section.rows if number == 0 else [section.header, *section.rows]
        lines += _table(rows)
    if report.malformed:
        lines += ["", f"Malformed {report.unit}s (skipped)"]
        lines += [f"  {line}" for line in _malformed(report)]
    if report.examples:
        lines += ["", "Most changed incidents"]
        for number, example in enumerate(report.examples, 1):
            name = example.incident_id or "(no id)"
            lines.append(
                f"  {number}. {name} ({_where(report, example.position)}, {example.type}): "
                + _headline(example)
            )
            lines.append(f"     before: {_side(example.baseline)}")
            lines.append(f"     now:    {_side(example.new)}")
            for why in example.why:
                lines.append(f"     · {why.rule}: {why.baseline} → {why.new}")
                if why.condition_baseline != why.condition_new:
                    lines.append(f"         condition was: {why.condition_baseline or '-'}")
                    lines.append(f"         condition now: {why.condition_new or '-'}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- markdown


def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    return "`" + text.replace("`", "ˋ") + "`"


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    align = ["---"] + ["---:"] * (len(header) - 1)
    return [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join(align) + " |",
        *("| " + " | ".join(_md(c) for c in row) + " |" for row in rows),
    ]


def _markdown(report: BacktestReport, type_name: Callable[[str], str] = str) -> str:
    lines = [
        f"# Backtest of {_code(report.source)}",
        "",
        f"New playbooks {_code(report.new)}, baseline {_code(report.baseline)}.",
        "",
        *_summary_lines(report),
    ]
    for number, section in enumerate(_sections(report, type_name)):
        if number:
            lines += ["", f"## {section.title}"]
            if section.note:
                lines += ["", section.note]
        lines += ["", *_md_table(section.header, section.rows)]
    if report.malformed:
        lines += ["", f"## Malformed {report.unit}s (skipped)", ""]
        lines += [f"- {_md(line)}" for line in _malformed(report)]
    if report.examples:
        lines += ["", "## Most changed incidents"]
        for number, example in enumerate(report.examples, 1):
            name = example.incident_id or "(no id)"
            lines += [
                "",
                f"### {number}. {_md(name)} ({_where(report, example.position)}, {example.type})",
                "",
                f"{_md(_headline(example))}",
                "",
                f"- before: {_md(_side(example.baseline))}",
                f"- now: {_md(_side(example.new))}",
            ]
            for why in example.why:
                lines.append(f"- {_code(why.rule)}: {_md(why.baseline)} → {_md(why.new)}")
                if why.condition_baseline != why.condition_new:
                    lines.append(f"  - condition was {_code(why.condition_baseline or '-')}")
                    lines.append(f"  - condition now {_code(why.condition_new or '-')}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- html

# bars are coloured by class from the shared stylesheet: outcomes by what they are, a
# compensation delta in neutral hues by direction (less is not "good", more is not "bad")
_CHANGED, _MORE, _LESS = "changed", "more", "less"
_COLOURS = {name: name for name in ("same", "changed", "error_now", "error_fixed", "error_both")}


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _bars(items: Sequence[tuple[str, float, str]], *, unit: str = "") -> str:
    """A horizontal bar chart: (label, value, colour) per bar; negative values go left."""
    if not items:
        return ""
    width, label_width, row = 640, 220, 24
    extent = max(abs(v) for _, v, _ in items) or 1
    has_negative = any(v < 0 for _, v, _ in items)
    zero = label_width + ((width - label_width) / 2 if has_negative else 0)
    span = (width - label_width) / (2 if has_negative else 1) - 60
    height = row * len(items) + 8
    parts = [f'<svg class="bars" width="{width}" height="{height}" role="img" aria-label="chart">']
    if has_negative:  # the zero line, so that a bar's side reads as its sign
        parts.append(f'<line x1="{zero}" x2="{zero}" y1="0" y2="{height}" />')
    for index, (label, value, colour) in enumerate(items):
        y = index * row + 4
        length = abs(value) / extent * span
        x = zero - length if value < 0 else zero
        shown = f"{value:,.2f}" if unit else f"{value:,.0f}"
        # a negative bar grows left from zero: its figure goes right of the zero line
        text_x = zero + 4 if value < 0 else x + length + 4
        anchor = "start"
        parts.append(
            f'<text x="{label_width - 8}" y="{y + 15}" text-anchor="end">{_e(label)}</text>'
            f'<rect x="{x:.1f}" y="{y}" width="{max(length, 1):.1f}" height="{row - 8}" '
            f'class="{colour}"><title>{_e(label)}: {_e(shown)}</title></rect>'
            f'<text x="{text_x:.1f}" y="{y + 15}" text-anchor="{anchor}">'
            f"{_e(shown)}{_e(unit)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(
        f'<th class="{"" if i == 0 else "n"}">{_e(h)}</th>' for i, h in enumerate(header)
    )
    body = "".join(
        "<tr>"
        + "".join(f'<td class="{"" if i == 0 else "n"}">{_e(c)}</td>' for i, c in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html(report: BacktestReport, type_name: Callable[[str], str] = str) -> str:
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Backtest of {_e(report.source)}</title>",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<style>{stylesheet()}</style></head><body><main>",
        f"<h1>Backtest of <code>{_e(report.source)}</code></h1>",
        f"<p>New playbooks <code>{_e(report.new)}</code>, baseline "
        f"<code>{_e(report.baseline)}</code>. {_e(_summary_lines(report)[0])}.</p>",
    ]
    for section in _sections(report, type_name):
        out.append(f"<h2>{_e(section.title)}</h2>")
        for note in (section.note, section.chart_note if section.bars else None):
            if note:
                out.append(f"<p>{_e(note)}</p>")
        out += [_bars(section.bars, unit=section.unit), _html_table(section.header, section.rows)]
    if report.malformed:
        out.append(f"<h2>Malformed {_e(report.unit)}s (skipped)</h2><ul>")
        out += [f"<li>{_e(line)}</li>" for line in _malformed(report)]
        out.append("</ul>")
    if report.examples:
        out.append("<h2>Most changed incidents</h2>")
        for number, example in enumerate(report.examples, 1):
            name = example.incident_id or "(no id)"
            out.append(
                f'<div class="ex"><h3>{number}. {_e(name)} '
                f"({_e(_where(report, example.position))}, {_e(type_name(example.type))})</h3>"
                f"<p>{_e(_headline(example))}</p><ul>"
                f"<li>before: {_e(_side(example.baseline))}</li>"
                f"<li>now: {_e(_side(example.new))}</li></ul>"
            )
            if example.why:
                out.append("<ul>")
                for why in example.why:
                    item = f"<code>{_e(why.rule)}</code>: {_e(why.baseline)} → {_e(why.new)}"
                    if why.condition_baseline != why.condition_new:
                        item += (
                            f"<br>condition was <code>{_e(why.condition_baseline or '-')}</code>,"
                            f" now <code>{_e(why.condition_new or '-')}</code>"
                        )
                    out.append(f"<li>{item}</li>")
                out.append("</ul>")
            out.append("</div>")
    out.append("</main></body></html>")
    return "\n".join(out)
