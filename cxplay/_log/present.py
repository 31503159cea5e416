"""The CX report as text, Markdown, JSON or one self-contained HTML page; the CSAT map.

The HTML page inlines its charts as SVG drawn by pygal (``pip install 'cxplay[report]'``):
no script, no font, no stylesheet is fetched, so it opens offline and can be mailed.
pygal was chosen over matplotlib's SVG backend because it is pure Python, draws SVG
natively (text stays text, so the page is searchable and accessible) and does not pull
numpy and a font cache into a support tool for four bar charts.
"""

from __future__ import annotations

import html
import json
import re
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Literal

from cxplay._common.style import stylesheet
from cxplay._log.report import DisruptionStats, Report, Stats
from cxplay._playbooks.journey import JourneyMap
from cxplay._playbooks.labels import LabelBook
from cxplay.errors import LogError

__all__ = ["CsatMap", "csat_map", "journey_csat", "report_html", "report_text"]

ReportFormat = Literal["text", "markdown", "json", "html"]


# --------------------------------------------------------------------------- values


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def _score(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.0f}" if signed else f"{value:.1f}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    return f"{hours // 24} d {hours % 24} h"


def _money(amounts: dict[str, float]) -> str:
    if not amounts:
        return "-"
    return ", ".join(f"{amount:,.2f} {currency}" for currency, amount in sorted(amounts.items()))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _when(moment: datetime | None) -> str:
    return moment.isoformat(timespec="minutes") if moment else "…"


def _period(report: Report) -> str:
    if report.since is None and report.until is None:
        return "all decisions"
    return f"{_when(report.since)} – {_when(report.until)}"


Column = tuple[str, Callable[[Stats], str]]

COLUMNS: list[Column] = [
    ("decisions", lambda s: str(s.decisions)),
    ("outcomes", lambda s: str(s.decided)),
    # each outcome as itself: an edited reply is not "accepted", so no blended rate
    ("accepted", lambda s: str(s.accepted)),
    ("edited", lambda s: str(s.edited)),
    ("rejected", lambda s: str(s.rejected)),
    ("CSAT", lambda s: _score(s.csat)),
    ("NPS", lambda s: _score(s.nps, signed=True)),
    ("CES", lambda s: _score(s.ces)),
    ("1st response", lambda s: _duration(s.first_response_s)),
    ("on time", lambda s: _percent(s.on_time_rate)),
    ("compensation", lambda s: _money(s.compensation)),
]


def _summary(report: Report) -> list[str]:
    s = report.total
    return [
        f"{_count(s.decisions, 'decision')}, {s.decided} with an outcome: "
        f"{s.accepted} sent as suggested, {s.edited} edited, {s.rejected} rejected",
        f"compensation given: {_money(s.compensation)}",
        f"CSAT {_score(s.csat)} ({s.csat_answers} answers), NPS {_score(s.nps, signed=True)} "
        f"({s.nps_answers}), CES {_score(s.ces)} ({s.ces_answers})",
        f"first response, from the decision: {_duration(s.first_response_s)} on average; "
        f"{_percent(s.on_time_rate)} by respond_by ({s.on_time} of {s.with_deadline})",
    ]


def _rejected(s: Stats) -> str:
    return f"{s.key}: {_percent(s.rejection)} rejected ({s.rejected} of {s.decided})"


def _rejected_lines(report: Report) -> list[str]:
    return [f"{n}. {_rejected(s)}" for n, s in enumerate(report.most_rejected, start=1)]


def _wait(seconds: float | None) -> str:
    """A time to notice: seconds under a minute (a live stream), else as a duration."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    return _duration(seconds)


DisruptionColumn = tuple[str, Callable[[DisruptionStats], str]]

DISRUPTION_COLUMNS: list[DisruptionColumn] = [
    ("opened", lambda s: str(s.opened)),
    ("open", lambda s: str(s.open)),
    ("resolved", lambda s: str(s.resolved)),
    ("members", lambda s: str(s.members)),
    ("notices", lambda s: str(s.notices)),
    ("resolution notices", lambda s: str(s.resolutions)),
    ("to notice, median", lambda s: _wait(s.notice_median_s)),
    ("to notice, max", lambda s: _wait(s.notice_max_s)),
]

#: What the time to notice is, said under every disruption table.
TIME_TO_NOTICE = (
    "time to notice: from the occurred_at of the incident that completed the threshold "
    "to the disruption's first notice (a replay of old incidents shows their age)"
)


def _disruption_summary(report: Report) -> list[str]:
    d = report.disruptions
    if not d.opened:
        return ["No disruptions in this period."]
    return [
        f"{_count(d.opened, 'disruption')} ({d.open} open, {d.resolved} resolved), "
        f"{_count(d.members, 'member')}, {_count(d.notices, 'notice')} and "
        f"{_count(d.resolutions, 'resolution notice')} sent",
        f"time to notice: median {_wait(d.notice_median_s)}, "
        f"max {_wait(d.notice_max_s)} (over {d.noticed})",
    ]


def _correlation_name(s: DisruptionStats) -> str:
    return s.title or s.key


def _text_disruptions(report: Report) -> list[str]:
    lines = ["Disruptions", *_disruption_summary(report)]
    rows = report.by_correlation
    if not rows:
        return lines
    heads = ["correlation"] + [h for h, _ in DISRUPTION_COLUMNS]
    cells = [[_correlation_name(s)] + [f(s) for _, f in DISRUPTION_COLUMNS] for s in rows]
    widths = [max(len(r[i]) for r in [heads, *cells]) for i in range(len(heads))]

    def line(values: list[str]) -> str:
        first = values[0].ljust(widths[0])
        rest = [v.rjust(w) for v, w in zip(values[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest]).rstrip()

    return [*lines, "", line(heads), *(line(c) for c in cells), TIME_TO_NOTICE]


def _md_disruptions(report: Report) -> list[str]:
    lines = ["## Disruptions", "", *(f"- {x}" for x in _disruption_summary(report))]
    rows = report.by_correlation
    if not rows:
        return lines
    heads = ["correlation"] + [h for h, _ in DISRUPTION_COLUMNS]
    lines += ["", "| " + " | ".join(heads) + " |", "|---|" + "---:|" * len(DISRUPTION_COLUMNS)]
    for s in rows:
        first = f"{_correlation_name(s)} (`{s.key}`)" if s.title else f"`{s.key}`"
        lines.append("| " + " | ".join([first] + [f(s) for _, f in DISRUPTION_COLUMNS]) + " |")
    return [*lines, "", f"*{TIME_TO_NOTICE[:1].upper()}{TIME_TO_NOTICE[1:]}.*"]


def _html_disruptions(report: Report) -> str:
    summary = "".join(f"<li>{html.escape(x)}</li>" for x in _disruption_summary(report))
    parts = ["<h2>Disruptions</h2>", f'<ul class="summary">{summary}</ul>']
    rows = report.by_correlation
    if rows:
        heads = '<th scope="col">correlation</th>' + "".join(
            f'<th scope="col" class="number">{html.escape(h)}</th>' for h, _ in DISRUPTION_COLUMNS
        )
        body = "".join(
            f'<tr><td><span title="{html.escape(s.key)}">'
            f"{html.escape(_correlation_name(s))}</span></td>"
            + "".join(f'<td class="number">{html.escape(f(s))}</td>' for _, f in DISRUPTION_COLUMNS)
            + "</tr>"
            for s in rows
        )
        parts.append(f"<table><thead><tr>{heads}</tr></thead><tbody>{body}</tbody></table>")
        parts.append(f"<p><small>{html.escape(TIME_TO_NOTICE)}.</small></p>")
    return "\n".join(parts)


# --------------------------------------------------------------------------- text, markdown


def _text_table(title: str, rows: Sequence[Stats], name: Callable[[str], str] = str) -> list[str]:
    heads = [title] + [h for h, _ in COLUMNS]
    cells = [[name(s.key)] + [f(s) for _, f in COLUMNS] for s in rows]
    widths = [max(len(r[i]) for r in [heads, *cells]) for i in range(len(heads))]

    def line(values: list[str]) -> str:
        first = values[0].ljust(widths[0])
        rest = [v.rjust(w) for v, w in zip(values[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest]).rstrip()

    return [line(heads), *(line(c) for c in cells)]


def _md_table(
    title: str, rows: Sequence[Stats], name: Callable[[str], str] | None = None
) -> list[str]:
    heads = [title] + [h for h, _ in COLUMNS]
    out = ["| " + " | ".join(heads) + " |", "|---|" + "---:|" * len(COLUMNS)]
    for s in rows:
        first = name(s.key) if name else f"`{s.key}`"
        out.append("| " + " | ".join([first] + [f(s) for _, f in COLUMNS]) + " |")
    return out


def _type_name(labels: LabelBook | None) -> Callable[[str], str]:
    """An incident type as the report shows it: its English title, else its id."""
    return (lambda key: labels.type(key, "en")) if labels else str


def report_text(
    report: Report,
    fmt: Literal["text", "markdown", "json"] = "text",
    labels: LabelBook | None = None,
) -> str:
    """The report for a terminal, a ticket or wiki (Markdown), or a program (JSON).

    With the playbooks' ``labels``, incident types are shown by title (JSON keeps ids).
    """
    if fmt == "json":
        return json.dumps(report.as_dict(), indent=2, ensure_ascii=False)
    period = _period(report)
    name = _type_name(labels)
    if fmt == "markdown":
        lines = [f"# CX report, {period}", ""]
        lines += [f"- {line}" for line in _summary(report)]
        by_type = _md_table("type", report.by_type, name if labels else None)
        lines += ["", "## By incident type", "", *by_type]
        lines += ["", "## By rule", "", *_md_table("rule", report.by_rule)]
        lines += ["", "## Rules agents reject most", ""]
        lines += _rejected_lines(report) or ["None rejected."]
        lines += ["", *_md_disruptions(report)]
        return "\n".join(lines)
    lines = [f"CX report, {period}", "", *_summary(report), ""]
    lines += ["By incident type", *_text_table("type", report.by_type, name), ""]
    lines += ["By rule", *_text_table("rule", report.by_rule), ""]
    lines += ["Rules agents reject most", *(_rejected_lines(report) or ["none rejected"])]
    lines += ["", *_text_disruptions(report)]
    return "\n".join(lines)


# --------------------------------------------------------------------------- journey x CSAT


CsatMap = dict[tuple[str, str], tuple[float | None, int]]


def journey_csat(journey: JourneyMap, report: Report) -> CsatMap:
    """Mean CSAT per journey cell: over the decisions of the rules covering it."""
    by_rule = {s.key: s for s in report.by_rule}
    cells: CsatMap = {}
    for stage in journey.stages:
        for dimension in journey.dimensions:
            total = 0.0
            answers = 0
            for rule in journey.rules(stage, dimension):
                stats = by_rule.get(rule)
                if stats is not None and stats.csat is not None:
                    total += stats.csat * stats.csat_answers
                    answers += stats.csat_answers
            cells[(stage, dimension)] = (round(total / answers, 1) if answers else None, answers)
    return cells


def _band(csat: float | None) -> str:
    if csat is None:
        return "none"
    return "good" if csat >= 4 else "fair" if csat >= 3 else "poor"


_ANSI = {"good": "\x1b[32m", "fair": "\x1b[33m", "poor": "\x1b[31m", "none": "\x1b[2m"}
_MARK = {"good": "🟢", "fair": "🟡", "poor": "🔴", "none": "·"}


def csat_map(
    journey: JourneyMap, cells: CsatMap, fmt: Literal["text", "markdown"], *, color: bool
) -> str:
    """The journey map with each cell's mean CSAT: green from 4, yellow from 3, red below."""
    if fmt == "markdown":
        lines = [
            "| stage | " + " | ".join(journey.dimensions) + " |",
            "|---|" + "---|" * len(journey.dimensions),
        ]
        for stage in journey.stages:
            row = []
            for dimension in journey.dimensions:
                csat, answers = cells[(stage, dimension)]
                mark = _MARK[_band(csat)]
                row.append(f"{mark} {csat:.1f} ({answers})" if csat is not None else mark)
            lines.append(f"| {stage} | " + " | ".join(row) + " |")
    else:
        width = max(len(s) for s in journey.stages)
        lines = [" " * width + "  " + "  ".join(f"{d[:5]:>5}" for d in journey.dimensions)]
        for stage in journey.stages:
            row = []
            for dimension in journey.dimensions:
                csat, _ = cells[(stage, dimension)]
                text = f"{csat:>5.1f}" if csat is not None else f"{'·':>5}"
                if color:
                    text = f"{_ANSI[_band(csat)]}{text}\x1b[0m"
                row.append(text)
            lines.append(f"{stage:<{width}}  " + "  ".join(row))
    lines += [
        "",
        "mean CSAT (1-5) of the decisions whose rules cover a cell: "
        "green from 4, yellow from 3, red below; '·' no answers yet",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- html


def _charts(report: Report, labels: LabelBook | None = None) -> list[tuple[str, str]]:
    try:
        import pygal
        from pygal.style import Style
    except ImportError:
        raise LogError(
            "the HTML report draws its charts with pygal: pip install 'cxplay[report]'"
        ) from None
    # pygal puts a finder without find_spec() on sys.meta_path (for its old plugin
    # imports); every later import then warns. cxplay uses no pygal plugin: take it off.
    sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "PluginImportFixer"]

    def style(colors: tuple[str, ...]) -> Any:
        return Style(
            background="white",
            plot_background="white",
            font_family="system-ui, sans-serif",
            colors=colors,
        )

    # The outcome palette (green, amber, red, grey) is for outcomes only; every other
    # series gets neutral hues, so no chart reads as "good" or "bad" by colour alone.
    outcome_style = style(("#116329", "#9a6700", "#a40e26", "#6e7781"))
    series_style = style(("#0a58ca", "#8250df", "#1b7c83", "#bf5700", "#57606a"))
    # js=[]: pygal links a tooltip script from the web by default; the page is offline
    common = {"style": series_style, "js": [], "width": 640, "height": 320}
    common["legend_at_bottom"] = True
    charts: list[tuple[str, str]] = []
    name = _type_name(labels)

    outcomes = pygal.StackedBar(**{**common, "style": outcome_style}, x_label_rotation=20)
    outcomes.x_labels = [name(s.key) for s in report.by_type]
    outcomes.add("accepted", [s.accepted for s in report.by_type])
    outcomes.add("edited", [s.edited for s in report.by_type])
    outcomes.add("rejected", [s.rejected for s in report.by_type])
    outcomes.add("no outcome", [s.decisions - s.decided for s in report.by_type])
    charts.append(("Decisions and outcomes by incident type", outcomes.render(is_unicode=True)))

    csat = pygal.Bar(**common, range=(0, 5), x_label_rotation=20)
    csat.x_labels = [name(s.key) for s in report.by_type]
    csat.add("CSAT (1-5)", [s.csat for s in report.by_type])
    charts.append(("CSAT by incident type", csat.render(is_unicode=True)))

    money = pygal.Bar(**common)
    for currency, amount in sorted(report.total.compensation.items()):
        money.add(currency, [amount])
    charts.append(("Compensation given, by currency", money.render(is_unicode=True)))

    rejected = pygal.HorizontalBar(**common, range=(0, 100))
    for s in reversed(report.most_rejected):
        rejected.add(s.key, [round(100 * (s.rejection or 0), 1)])
    charts.append(("Most rejected rules (% of outcomes)", rejected.render(is_unicode=True)))
    return charts


_SCRIPT = re.compile(r"<script\b.*?</script>", re.S)


def _svg(markup: str) -> str:
    """A chart's SVG document as an element to inline: no XML declaration, no script.

    pygal sets its tooltip configuration in an inline script; without the tooltip script
    (never fetched) it does nothing, and a page without scripts is simpler to trust.
    """
    start = markup.find("<svg")
    return _SCRIPT.sub("", markup[start:] if start >= 0 else markup)


def _html_table(title: str, rows: Sequence[Stats], name: Callable[[str], str] | None = None) -> str:
    heads = f'<th scope="col">{html.escape(title)}</th>' + "".join(
        f'<th scope="col" class="number">{html.escape(h)}</th>' for h, _ in COLUMNS
    )

    def first(key: str) -> str:
        if name is None:
            return f"<code>{html.escape(key)}</code>"
        return f'<span title="{html.escape(key)}">{html.escape(name(key))}</span>'

    body = "".join(
        f"<tr><td>{first(s.key)}</td>"
        + "".join(f'<td class="number">{html.escape(f(s))}</td>' for _, f in COLUMNS)
        + "</tr>"
        for s in rows
    )
    return f"<table><thead><tr>{heads}</tr></thead><tbody>{body}</tbody></table>"


def _html_map(journey: JourneyMap, cells: CsatMap) -> str:
    heads = "".join(f"<th>{html.escape(d)}</th>" for d in journey.dimensions)
    rows = []
    for stage in journey.stages:
        tds = []
        for dimension in journey.dimensions:
            csat, answers = cells[(stage, dimension)]
            text = f"{csat:.1f} ({answers})" if csat is not None else "·"
            tds.append(f'<td class="{_band(csat)}">{text}</td>')
        rows.append(f"<tr><td>{html.escape(stage)}</td>{''.join(tds)}</tr>")
    return (
        f'<table class="journey"><thead><tr><th>stage</th>{heads}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def report_html(
    report: Report, journey: JourneyMap | None = None, labels: LabelBook | None = None
) -> str:
    """One self-contained HTML page: summary, inline SVG charts, tables, the CSAT map.

    It inlines the stylesheet every cxplay page shares; with the playbooks' ``labels``,
    incident types are shown by title (the id in a tooltip).
    """
    period = html.escape(_period(report))
    figures = "".join(
        f'<figure class="chart"><figcaption>{html.escape(title)}</figcaption>{_svg(svg)}</figure>'
        for title, svg in _charts(report, labels)
    )
    summary = "".join(f"<li>{html.escape(line)}</li>" for line in _summary(report))
    # an <ol> numbers its items itself: the text's "1. " would number them twice
    rejected = "".join(f"<li>{html.escape(_rejected(s))}</li>" for s in report.most_rejected)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>CX report, {period}</title><style>{stylesheet()}</style></head><body>",
        "<main>",
        f"<h1>CX report, {period}</h1>",
        f'<ul class="summary">{summary}</ul>',
        f'<div class="charts">{figures}</div>',
        "<h2>By incident type</h2>",
        _html_table("type", report.by_type, _type_name(labels)),
        "<h2>By rule</h2>",
        _html_table("rule", report.by_rule),
        "<h2>Rules agents reject most</h2>",
        f"<ol>{rejected}</ol>" if rejected else "<p>None rejected.</p>",
        _html_disruptions(report),
    ]
    if journey is not None:
        parts += [
            "<h2>Journey map by CSAT</h2>",
            "<p>Mean CSAT of the decisions whose rules cover each moment "
            "(green from 4, yellow from 3, red below; answers in brackets).</p>",
            _html_map(journey, journey_csat(journey, report)),
        ]
    generated = html.escape(report.generated_at.isoformat(timespec="seconds"))
    parts.append(f"<p><small>generated {generated} by cxplay</small></p></main></body></html>")
    return "\n".join(parts)
