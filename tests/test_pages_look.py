"""One look for every page: the CX report, the backtest page and the event runbook.

They inline the one stylesheet the console serves; axe-core (vendored, injected by
Playwright into Debian's Chromium) finds no serious or critical violation on any of them,
light or dark; the report says accepted / edited / rejected as such, counts in words that
agree with the number, numbers its lists once and keeps the outcome colours for outcomes;
a smaller compensation is not drawn as a "good" green bar.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from cxplay import DecisionLog, Engine
from cxplay._backtest.present import render_report
from cxplay._backtest.run import Backtest
from cxplay._common.style import stylesheet
from cxplay._events.load import load_event
from cxplay._events.plan import build_plan
from cxplay._events.runbook import render_runbook_html
from cxplay._log.present import report_html, report_text
from cxplay._log.report import build_report
from cxplay._playbooks.journey import journey_map
from cxplay._playbooks.loader import load_playbooks, shipped_playbooks_dir
from tests.components import need

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
AXE = ROOT / "tests" / "vendor" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "tests" / "artifacts"
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
OUTCOME_PALETTE = ("#116329", "#9a6700", "#a40e26")


def _incident(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"D-{n}",
        "type": "parcel_damaged",
        "channel": "email",
        "occurred_at": T0.isoformat(),
        "customer": {"id": f"C-{n}"},
        "order": {"value": 250.0, "currency": "PLN"},
        "facts": {"photos_attached": True},
        **extra,
    }


def _log_with(tmp_path: Path, statuses: list[str]) -> str:
    path = str(tmp_path / "log.db")
    with DecisionLog.open(path) as log, Engine.from_path(backend="python", log=log) as engine:
        for n, status in enumerate(statuses):
            decision = engine.suggest(_incident(n))
            log.outcome(decision.decision_id, status, at=T0 + timedelta(minutes=30))
            log.feedback(decision.decision_id, csat=4)
    return path


def _report(path: str) -> Any:
    with DecisionLog.open(path) as log:
        return build_report(log)


def test_an_edited_reply_is_not_reported_as_accepted(tmp_path: Path) -> None:
    report = _report(_log_with(tmp_path, ["edited"]))
    text = report_text(report, "text")
    assert "1 decision, 1 with an outcome: 0 sent as suggested, 1 edited, 0 rejected" in text
    assert "100%" not in text.split("By rule")[0].split("first response")[0]
    page = report_html(report)
    assert "100% accepted" not in page and "1 decisions" not in page


@pytest.mark.parametrize(("count", "words"), [(1, "1 decision,"), (2, "2 decisions,")])
def test_the_count_agrees_with_its_noun(tmp_path: Path, count: int, words: str) -> None:
    text = report_text(_report(_log_with(tmp_path, ["accepted"] * count)), "text")
    assert text.splitlines()[2].startswith(words)


def test_the_rejected_list_is_numbered_once_and_charts_keep_outcome_colours(
    tmp_path: Path,
) -> None:
    report = _report(_log_with(tmp_path, ["rejected", "accepted"]))
    page = report_html(report)
    items = re.findall(r"<ol>(.*?)</ol>", page, re.S)
    assert items, "the most rejected rules are listed"
    for item in re.findall(r"<li>(.*?)</li>", items[0]):
        assert not re.match(r"\d+\.", item), item  # <ol> numbers them itself
    figures = re.findall(r'<figure class="chart">(.*?)</figure>', page, re.S)
    assert len(figures) == 4
    outcomes, *others = figures
    assert any(colour in outcomes for colour in OUTCOME_PALETTE)
    for figure in others:  # CSAT, money, rejected rules: not in outcome colours
        assert not any(colour in figure for colour in OUTCOME_PALETTE), figure[:200]


def test_the_report_and_backtest_show_type_titles_with_the_id_in_a_tooltip(
    tmp_path: Path,
) -> None:
    labels = load_playbooks().labels
    page = report_html(_report(_log_with(tmp_path, ["accepted"])), labels=labels)
    assert '<span title="parcel_damaged">Damaged parcel</span>' in page
    text = report_text(_report(str(tmp_path / "log.db")), "text", labels)
    assert re.search(r"^Damaged parcel\s+1", text, re.M)


@pytest.fixture(scope="module")
def backtest_page(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A backtest where the new playbooks refund less: a negative compensation delta."""
    root = tmp_path_factory.mktemp("bt")
    new = root / "new"
    shutil.copytree(shipped_playbooks_dir(), new)
    parcel = new / "parcel.toml"
    text = parcel.read_text("utf-8")
    old = "order.policy_value >= 100 and channel"
    assert text.count(old) == 1
    parcel.write_text(text.replace(old, "order.policy_value >= 300 and channel"), "utf-8")
    incidents = root / "incidents.jsonl"
    incidents.write_text("".join(json.dumps(_incident(n)) + "\n" for n in range(3)), "utf-8")
    report = Backtest([new], baseline=[shipped_playbooks_dir()]).run(incidents, workers=1)
    assert any(m.delta < 0 for m in report.compensation)
    return render_report(report, "html", load_playbooks(new).labels)


def test_a_smaller_compensation_is_not_a_green_bar(backtest_page: str) -> None:
    assert 'class="less"' in backtest_page
    assert not re.search(r'fill="#0[0-9a-f]6[0-9a-f]{0,3}"', backtest_page)  # no hard-coded green
    css = stylesheet()
    less = re.search(r"rect\.less \{ fill: var\((--[\w-]+)\)", css)
    assert less is not None and less.group(1) not in ("--ok", "--ok-bg")
    assert "Damaged parcel" in backtest_page


def test_every_page_inlines_the_one_stylesheet(backtest_page: str, tmp_path: Path) -> None:
    css = stylesheet()
    pages = {
        "report": report_html(_report(_log_with(tmp_path, ["accepted"]))),
        "backtest": backtest_page,
        "runbook": _runbook(),
    }
    for name, page in pages.items():
        assert css in page, name
        assert "<link" not in page and "@import" not in page, name
    assert "@media print" in css and "prefers-color-scheme: dark" in css


@functools.cache
def _runbook() -> str:
    event = load_event(ROOT / "examples" / "events" / "cxconf-2026.toml")
    with Engine.from_path() as engine:
        return render_runbook_html(build_plan(event, engine, event_source=None))


# --------------------------------------------------------------------------- axe-core


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    need(_has("playwright"), "playwright is not installed (pip install playwright)")
    need(os.path.exists(CHROMIUM), f"{CHROMIUM} is missing (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        launched.close()


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _violations(browser: Any, path: Path, scheme: str) -> list[str]:
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.emulate_media(color_scheme=scheme)
    page.goto(path.as_uri())
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{path.stem}-{scheme}.png"))
    page.close()
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_serious_violation_on_the_rendered_pages(
    browser: Any, backtest_page: str, tmp_path: Path, scheme: str
) -> None:
    labels = load_playbooks().labels
    report = _report(_log_with(tmp_path, ["accepted", "edited", "rejected"]))
    pages = {
        "report": report_html(report, journey_map(load_playbooks()), labels),
        "backtest": backtest_page,
        "runbook": _runbook(),
    }
    found = {}
    for name, text in pages.items():
        path = tmp_path / f"{name}.html"
        path.write_text(text, encoding="utf-8")
        found[name] = _violations(browser, path, scheme)
    assert found == {"report": [], "backtest": [], "runbook": []}
