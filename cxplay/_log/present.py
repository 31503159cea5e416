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
from typing import Literal

from cxplay._log.report import Report, Stats
from cxplay._playbooks.journey import JourneyMap
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
    ("accepted", lambda s: _percent(s.acceptance)),
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
        f"{s.decisions} decisions, {s.decided} with an outcome: {_percent(s.acceptance)} "
        f"accepted ({s.accepted} accepted, {s.edited} edited, {s.rejected} rejected)",
        f"compensation given: {_money(s.compensation)}",
        f"CSAT {_score(s.csat)} ({s.csat_answers} answers), NPS {_score(s.nps, signed=True)} "
        f"({s.nps_answers}), CES {_score(s.ces)} ({s.ces_answers})",
        f"first response, from the decision: {_duration(s.first_response_s)} on average; "
        f"{_percent(s.on_time_rate)} by respond_by ({s.on_time} of {s.with_deadline})",
    ]


def _rejected_lines(report: Report) -> list[str]:
    return [
        f"{n}. {s.key}: {_percent(s.rejection)} rejected ({s.rejected} of {s.decided})"
        for n, s in enumerate(report.most_rejected, start=1)
    ]


# --------------------------------------------------------------------------- text, markdown


def _text_table(title: str, rows: Sequence[Stats]) -> list[str]:
    heads = [title] + [h for h, _ in COLUMNS]
    cells = [[s.key] + [f(s) for _, f in COLUMNS] for s in rows]
    widths = [max(len(r[i]) for r in [heads, *cells]) for i in range(len(heads))]

    def line(values: list[str]) -> str:
        first = values[0].ljust(widths[0])
        rest = [v.rjust(w) for v, w in zip(values[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest]).rstrip()

    return [line(heads), *(line(c) for c in cells)]


def _md_table(title: str, rows: Sequence[Stats]) -> list[str]:
    heads = [title] + [h for h, _ in COLUMNS]
    out = ["| " + " | ".join(heads) + " |", "|---|" + "---:|" * len(COLUMNS)]
    for s in rows:
        out.append("| " + " | ".join([f"`{s.key}`"] + [f(s) for _, f in COLUMNS]) + " |")
    return out


def report_text(report: Report, fmt: Literal["text", "markdown", "json"] = "text") -> str:
    """The report for a terminal, a ticket or wiki (Markdown), or a program (JSON)."""
    if fmt == "json":
        return json.dumps(report.as_dict(), indent=2, ensure_ascii=False)
    period = _period(report)
    if fmt == "markdown":
        lines = [f"# CX report, {period}", ""]
        lines += [f"- {line}" for line in _summary(report)]
        lines += ["", "## By incident type", "", *_md_table("type", report.by_type)]
        lines += ["", "## By rule", "", *_md_table("rule", report.by_rule)]
        lines += ["", "## Rules agents reject most", ""]
        lines += _rejected_lines(report) or ["None rejected."]
        return "\n".join(lines)
    lines = [f"CX report, {period}", "", *_summary(report), ""]
    lines += ["By incident type", *_text_table("type", report.by_type), ""]
    lines += ["By rule", *_text_table("rule", report.by_rule), ""]
    lines += ["Rules agents reject most", *(_rejected_lines(report) or ["none rejected"])]
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


_CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;color:#1d2330}
body{padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{padding:.3rem .5rem;border-bottom:1px solid #dde2ea;text-align:right}
th:first-child,td:first-child{text-align:left}code{font-size:.85rem}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(30rem,1fr));gap:1rem}
figure{margin:0}figcaption{font-weight:600;margin-bottom:.3rem}
.good{background:#cdeccd}.fair{background:#fbeeb8}.poor{background:#f6c8c3}.none{color:#8a93a3}
ul.summary li{margin:.2rem 0}
"""


def _charts(report: Report) -> list[tuple[str, str]]:
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
    style = Style(
        background="white",
        plot_background="white",
        font_family="system-ui, sans-serif",
        colors=("#2e7d32", "#f9a825", "#c62828", "#90a4ae", "#1565c0"),
    )
    # js=[]: pygal links a tooltip script from the web by default; the page is offline
    common = {"style": style, "js": [], "width": 640, "height": 320, "legend_at_bottom": True}
    charts: list[tuple[str, str]] = []

    outcomes = pygal.StackedBar(**common, x_label_rotation=20)
    outcomes.x_labels = [s.key for s in report.by_type]
    outcomes.add("accepted", [s.accepted for s in report.by_type])
    outcomes.add("edited", [s.edited for s in report.by_type])
    outcomes.add("rejected", [s.rejected for s in report.by_type])
    outcomes.add("no outcome", [s.decisions - s.decided for s in report.by_type])
    charts.append(("Decisions and outcomes by incident type", outcomes.render(is_unicode=True)))

    csat = pygal.Bar(**common, range=(0, 5), x_label_rotation=20)
    csat.x_labels = [s.key for s in report.by_type]
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


def _html_table(title: str, rows: Sequence[Stats]) -> str:
    heads = "".join(f"<th>{html.escape(h)}</th>" for h in [title] + [h for h, _ in COLUMNS])
    body = "".join(
        "<tr><td><code>"
        + html.escape(s.key)
        + "</code></td>"
        + "".join(f"<td>{html.escape(f(s))}</td>" for _, f in COLUMNS)
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


def report_html(report: Report, journey: JourneyMap | None = None) -> str:
    """One self-contained HTML page: summary, inline SVG charts, tables, the CSAT map."""
    period = html.escape(_period(report))
    figures = "".join(
        f'<figure class="chart"><figcaption>{html.escape(title)}</figcaption>{_svg(svg)}</figure>'
        for title, svg in _charts(report)
    )
    summary = "".join(f"<li>{html.escape(line)}</li>" for line in _summary(report))
    rejected = "".join(f"<li>{html.escape(line)}</li>" for line in _rejected_lines(report))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>CX report, {period}</title><style>{_CSS}</style></head><body>",
        f"<h1>CX report, {period}</h1>",
        f'<ul class="summary">{summary}</ul>',
        f'<div class="charts">{figures}</div>',
        "<h2>By incident type</h2>",
        _html_table("type", report.by_type),
        "<h2>By rule</h2>",
        _html_table("rule", report.by_rule),
        "<h2>Rules agents reject most</h2>",
        f"<ol>{rejected}</ol>" if rejected else "<p>None rejected.</p>",
    ]
    if journey is not None:
        parts += [
            "<h2>Journey map by CSAT</h2>",
            "<p>Mean CSAT of the decisions whose rules cover each moment "
            "(green from 4, yellow from 3, red below; answers in brackets).</p>",
            _html_map(journey, journey_csat(journey, report)),
        ]
    generated = html.escape(report.generated_at.isoformat(timespec="seconds"))
    parts.append(f"<p><small>generated {generated} by cxplay</small></p></body></html>")
    return "\n".join(parts)
