"""The CX report and the journey map by CSAT, from a log whose numbers are known."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import logstores
import pytest
from click.testing import CliRunner
from components import need

from cxplay import DecisionLog, Engine
from cxplay._cli import cli
from cxplay._log.present import csat_map, journey_csat, report_html, report_text
from cxplay._log.report import Report, build_report
from cxplay._playbooks.journey import journey_map

store = logstores.store
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)


def damaged(n: int, value: float) -> dict[str, Any]:
    return {
        "id": f"D-{n}",
        "type": "parcel_damaged",
        "channel": "email",
        "occurred_at": T0.isoformat(),
        "customer": {"id": f"C-{n}"},
        "order": {"value": value, "currency": "PLN"},
        "facts": {"photos_attached": True},
    }


def made_at(log: DecisionLog) -> dict[str, datetime]:
    """When each decision was made (the log's clock)."""
    log.flush()  # what is still queued is written first
    return {d.id: d.created_at for d in log.decisions(since=None, until=None)}


@pytest.fixture
def filled(store: str) -> str:
    """3 damaged parcels (accepted, edited, rejected) and a queue without an outcome.

    The outcomes come 30 min, 3 h and 1 h after each decision was made.
    """
    with DecisionLog.open(store) as log, Engine.from_path(backend="python", log=log) as engine:
        accepted = engine.suggest(damaged(1, 250.0))
        edited = engine.suggest(damaged(2, 300.0))
        rejected = engine.suggest(damaged(3, 400.0))
        engine.suggest(
            {
                "id": "Q-1",
                "type": "queue_long",
                "channel": "in_person",
                "facts": {"queue_minutes": 25},
            }
        )
        made = made_at(log)
        log.outcome(
            accepted.decision_id, "accepted", at=made[accepted.decision_id] + timedelta(minutes=30)
        )
        log.outcome(
            edited.decision_id,
            "edited",
            given={"refund": (120, "PLN")},
            at=made[edited.decision_id] + timedelta(hours=3),
        )
        log.outcome(
            rejected.decision_id, "rejected", at=made[rejected.decision_id] + timedelta(hours=1)
        )
        log.feedback(accepted.decision_id, csat=5, nps=10, ces=2)
        log.feedback(edited.decision_id, csat=3, nps=9)
        log.feedback(rejected.decision_id, csat=1, nps=3, ces=6)
    return store


def report_of(store: str, **period: Any) -> Report:
    with DecisionLog.open(store) as log:
        return build_report(log, **period)


def test_the_numbers(filled: str) -> None:
    report = report_of(filled)
    total = report.total
    assert (total.decisions, total.decided, total.accepted, total.edited, total.rejected) == (
        4,
        3,
        1,
        1,
        1,
    )
    assert total.acceptance == pytest.approx(2 / 3)
    assert total.compensation == {"PLN": 370.0}  # 250 suggested and accepted + 120 given
    assert (total.csat, total.csat_answers) == (3.0, 3)
    assert (total.nps, total.nps_answers) == (33.3, 3)  # 2 promoters, 1 detractor of 3
    assert (total.ces, total.ces_answers) == (4.0, 2)
    assert total.first_response_s == pytest.approx((30 + 180 + 60) * 60 / 3)
    assert (total.on_time, total.with_deadline) == (2, 3)  # e-mail: within 2 hours
    damaged_stats, queue = report.by_type
    assert (damaged_stats.key, damaged_stats.decisions, damaged_stats.decided) == (
        "parcel_damaged",
        3,
        3,
    )
    assert (queue.key, queue.decisions, queue.decided, queue.acceptance) == (
        "queue_long",
        1,
        0,
        None,
    )
    rules = {s.key: s for s in report.by_rule}
    assert rules["parcel.damaged.apologise"].decisions == 3
    assert rules["parcel.damaged.apologise"].rejected == 1
    assert report.rule_playbooks["parcel.damaged.apologise"].startswith("parcel@")
    refund_rules = [s for s in report.by_rule if s.compensation]
    assert sum(s.compensation["PLN"] for s in refund_rules) == 370.0
    assert report.most_rejected and report.most_rejected[0].rejection == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    ("occurred", "label"),
    [
        # weekdays inside the shipped calendar's opening hours, so that the e-mail SLA's two
        # working hours are two hours (a Sunday would stretch the window to Monday)
        (T0 - timedelta(days=144), "months before the decision"),
        (T0 + timedelta(days=32), "in the future"),
        (T0 - timedelta(minutes=90), "90 min before the decision"),
        (None, "not given"),
    ],
)
def test_first_response_counts_from_the_decision(
    store: str, occurred: datetime | None, label: str
) -> None:
    """Whenever the incident says it happened, the clock starts when the decision was made.

    Two e-mails (2 hours to respond): answered 30 minutes and 3 hours after the decision.
    """
    with DecisionLog.open(store) as log, Engine.from_path(backend="python", log=log) as engine:
        ids, due = [], []
        for n in (1, 2):
            incident = damaged(n, 250.0)
            if occurred is None:
                del incident["occurred_at"]
            else:
                incident["occurred_at"] = occurred.isoformat()
            s = engine.suggest(incident)
            assert s.respond_by is not None
            ids.append(s.decision_id)
            due.append(s.respond_by)
        made = made_at(log)
        answered = [made[ids[0]] + timedelta(minutes=30), made[ids[1]] + timedelta(hours=3)]
        log.outcome(ids[0], "accepted", at=answered[0])
        log.outcome(ids[1], "accepted", at=answered[1])
        log.outcome(ids[1], "edited", at=made[ids[1]] + timedelta(hours=4))  # the first counts
    total = report_of(store).total
    assert total.first_response_s == pytest.approx((30 + 180) * 60 / 2, abs=1), label
    if occurred is not None:
        # a dated weekday morning: two working hours are two hours, so 30 min is on time
        assert (total.on_time, total.with_deadline) == (1, 2), label
        text = report_text(report_of(store), "text")
        assert "first response, from the decision: 1 h 45 min on average; 50% by respond_by" in text
    else:
        # counted from the decision itself (now): the window is whatever the calendar gives
        # at this hour (two hours in the morning, till the next opening at night)
        expected = sum(1 for at, by in zip(answered, due, strict=True) if at <= by)
        assert (total.on_time, total.with_deadline) == (expected, 2), label


def test_the_period_filters_decisions(filled: str) -> None:
    now = datetime.now(timezone.utc)
    assert report_of(filled, since=now + timedelta(hours=1)).total.decisions == 0
    assert report_of(filled, until=now + timedelta(hours=1)).total.decisions == 4
    empty = report_of(filled, until=now - timedelta(days=1))
    assert (empty.total.decisions, empty.by_type, empty.total.csat, empty.most_rejected) == (
        0,
        [],
        None,
        [],
    )


def test_text_markdown_and_json(filled: str) -> None:
    report = report_of(filled)
    text = report_text(report, "text")
    assert text.splitlines()[:6] == [
        "CX report, all decisions",
        "",
        "4 decisions, 3 with an outcome: 1 sent as suggested, 1 edited, 1 rejected",
        "compensation given: 370.00 PLN",
        "CSAT 3.0 (3 answers), NPS +33 (3), CES 4.0 (2)",
        "first response, from the decision: 1 h 30 min on average; 67% by respond_by (2 of 3)",
    ]
    assert re.search(
        r"^parcel_damaged\s+3\s+3\s+1\s+1\s+1\s+3\.0\s+\+33\s+4\.0\s+1 h 30 min\s+67%\s+370\.00 PLN$",
        text,
        re.M,
    )
    assert re.search(r"^queue_long\s+1\s+0\s+0\s+0\s+0\s+-\s+-\s+-\s+-\s+-\s+-$", text, re.M)
    markdown = report_text(report, "markdown")
    assert (
        "| type | decisions | outcomes | accepted | edited | rejected | CSAT | NPS | CES | 1st response | on time | compensation |"
        in markdown
    )
    assert (
        "| `parcel_damaged` | 3 | 3 | 1 | 1 | 1 | 3.0 | +33 | 4.0 | 1 h 30 min | 67% | 370.00 PLN |"
        in markdown
    )
    data = json.loads(report_text(report, "json"))
    assert data["total"]["acceptance"] == pytest.approx(2 / 3)
    assert data["by_type"][0]["compensation"] == {"PLN": 370.0}
    assert data["most_rejected"][0] == report.most_rejected[0].key


def test_the_html_report_is_one_self_contained_file(filled: str) -> None:
    page = report_html(report_of(filled), journey_map(Engine.from_path(backend="python").playbooks))
    assert page.startswith("<!DOCTYPE html>")
    assert page.count('<figure class="chart">') == 4 and page.count("<svg") == 4
    assert "<script" not in page
    # nothing to fetch: no src, no stylesheet link, no url() (namespaces are names, not loads)
    assert not re.search(r"""\b(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "url(" not in page and "<link" not in page
    assert 'class="journey"' in page and 'class="fair"' in page


def test_text_in_the_html_report_is_escaped(filled: str) -> None:
    # types and rule ids are restricted to safe characters today; the page must not rely on it
    report = report_of(filled)
    odd = dataclasses.replace(report.by_type[0], key="<img src=x onerror=alert(1)>")
    page = report_html(dataclasses.replace(report, by_type=[odd]))
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_the_journey_map_by_csat(filled: str) -> None:
    journey = journey_map(Engine.from_path(backend="python").playbooks)
    cells = journey_csat(journey, report_of(filled))
    rules = set(journey.rules("delivery", "relational"))
    assert "parcel.damaged.apologise" in rules
    csat, answers = cells[("delivery", "relational")]
    assert answers >= 3 and csat is not None and 1 <= csat <= 5
    assert cells[("pre_purchase", "sensory")] == (None, 0)
    text = csat_map(journey, cells, "text", color=True)
    assert "\x1b[33m  3.0\x1b[0m" in text  # fair: yellow
    markdown = csat_map(journey, cells, "markdown", color=False)
    assert "| delivery | " in markdown and "🟡 3.0 (3)" in markdown


def run(*args: str | Path) -> Any:
    return CliRunner().invoke(
        cli,
        [str(a) for a in args],
        env={"NO_COLOR": "1", "CXPLAY_LOG": None, "CXPLAY_PLAYBOOKS": None},
    )


def test_the_cli_report(filled: str, tmp_path: Path) -> None:
    for fmt in ("text", "markdown", "json"):
        result = run("report", "--format", fmt, "--log", filled)
        assert (result.exit_code, result.stderr) == (0, ""), result.stderr
    assert "4 decisions, 3 with an outcome" in run("report", "--log", filled).stdout
    assert run("report", "--since", "2999-01-01", "--log", filled).stdout.startswith(
        "CX report, 2999-01-01T00:00+00:00 – …\n\n0 decisions"
    )
    out = tmp_path / "r.html"
    result = run("report", "--format", "html", "--out", out, "--log", filled)
    assert (result.exit_code, result.stderr) == (0, f"Wrote {out}\n")
    assert out.read_text(encoding="utf-8").count("<svg") == 4
    result = run("map", "--csat", "--log", filled)
    assert result.exit_code == 0 and "mean CSAT (1-5)" in result.stdout
    assert re.search(r"^delivery\s+", result.stdout, re.M)


def test_the_html_report_renders_in_chromium(filled: str, tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    need(Path(chromium).exists(), "Chromium: apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need(False, "Playwright: pip install playwright (the test group has it)")
        raise
    out = tmp_path / "report.html"
    out.write_text(
        report_html(report_of(filled), journey_map(Engine.from_path(backend="python").playbooks)),
        encoding="utf-8",
    )
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(out.as_uri())
        charts = page.locator("figure.chart svg")
        assert charts.count() == 4
        for n in range(4):
            box = charts.nth(n).bounding_box()
            assert box is not None and box["width"] > 300 and box["height"] > 150
        # the bars are drawn: the outcome chart has a rect per (type, outcome) with a value
        assert page.locator("figure.chart").nth(0).locator("rect.rect").count() >= 3
        assert (
            page.locator(
                "table.journey td.poor, table.journey td.fair, table.journey td.good"
            ).count()
            >= 3
        )
        browser.close()
    assert requests == [out.as_uri()]  # nothing fetched from anywhere else


# --------------------------------------------------------------------------- disruptions


def test_the_report_counts_disruptions_from_a_real_stream(store: str, tmp_path: Path) -> None:
    """A live stream through `cxplay watch` into the log; one disruption resolved."""
    import subprocess
    import sys

    from test_watch import incident, write_stream

    from cxplay._watch.store import WatchStore

    now = datetime.now(timezone.utc)
    stream = [
        incident(n, 0, "webinar", occurred_at=(now - timedelta(seconds=60 - n)).isoformat())
        for n in range(7)
    ] + [
        incident(100 + n, 0, "queue", occurred_at=(now - timedelta(seconds=30 - n)).isoformat())
        for n in range(4)
    ]
    source = write_stream(tmp_path / "in.jsonl", stream)
    env = {"NO_COLOR": "1", "PATH": "/usr/bin:/bin"}

    def cx(*args: str | Path) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "cxplay", *map(str, args), "--log", store],
            capture_output=True,
            env=env,
            check=False,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.decode()

    cx("watch", source, "--no-suggestions")
    rows = json.loads(cx("disruptions", "list", "--format", "json"))
    webinar = next(r for r in rows if r["correlation"] == "events.webinar_failed")
    cx("disruptions", "resolve", webinar["disruption_id"])
    with DecisionLog.open(store) as log:
        waits = sorted(d.time_to_notice_s or 0 for d in WatchStore(log).disruptions())
        report = build_report(log)
    d = report.disruptions
    assert (d.opened, d.open, d.resolved, d.members, d.notices, d.resolutions) == (
        2,
        1,
        1,
        11,
        11,
        7,
    )
    assert d.noticed == 2 and d.notice_max_s == pytest.approx(waits[-1], abs=0.002)
    assert d.notice_median_s == pytest.approx((waits[0] + waits[1]) / 2, abs=0.002)
    assert 0 < waits[0] < 120  # a live stream: seconds, not the incidents' age
    by = {s.key: s for s in report.by_correlation}
    assert (by["events.webinar_failed"].members, by["events.webinar_failed"].resolved) == (7, 1)
    assert (by["retail.queue_wave"].members, by["retail.queue_wave"].open) == (4, 1)
    text = report_text(report, "text")
    assert "2 disruptions (1 open, 1 resolved), 11 members, 11 notices and 7 resolution " in text
    assert re.search(
        r"^A webinar that failed for everyone\s+1\s+0\s+1\s+7\s+7\s+7\s+\d", text, re.M
    )
    assert "time to notice: from the occurred_at of the incident that completed" in text
    markdown = report_text(report, "markdown")
    assert "## Disruptions" in markdown
    assert "| Long queues in one shop (`retail.queue_wave`) | 1 | 1 | 0 | 4 | 4 | 0 |" in markdown
    data = json.loads(report_text(report, "json"))["disruptions"]
    assert (data["opened"], data["members"], data["resolutions"]) == (2, 11, 7)
    assert [c["key"] for c in data["by_correlation"]] == [
        "events.webinar_failed",
        "retail.queue_wave",
    ]
    page = report_html(report)
    assert "<h2>Disruptions</h2>" in page and 'title="retail.queue_wave"' in page
    later = report_text(report_of(store, since=now + timedelta(days=1)), "text")
    assert "No disruptions in this period." in later
    assert "2 disruptions" in cx("report")  # the CLI, as a user runs it
