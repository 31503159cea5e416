"""The agent console, end to end in headless Chromium (Debian's, driven by Playwright).

Fill the form (with the did-you-mean hint for a mistyped type), get the ranked actions and
the reply, copy it, open the explanation, record the outcome in the decision log, and keep a
screenshot in tests/artifacts/.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.components import need
from tests.serving import start_serve

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
AGENT = "console-agent-token-0123"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    need(shutil.which("uvicorn") is not None or _has("uvicorn"), "the serve extra is not installed")
    log_path = tmp_path_factory.mktemp("log") / "log.db"
    process, port = start_serve(
        "--log", str(log_path), env={**os.environ, "CXPLAY_TOKENS": f"{AGENT}:agent"}
    )
    url = f"http://127.0.0.1:{port}"
    yield url, log_path
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=20)


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def test_an_agent_gets_copies_explains_and_records_a_reply(server: tuple[str, Path]) -> None:
    url, log_path = server
    need(_has("playwright"), "playwright is not installed (pip install playwright)")
    need(os.path.exists(CHROMIUM), f"{CHROMIUM} is missing (apt-get install -y chromium)")
    from playwright.sync_api import expect, sync_playwright

    from cxplay import DecisionLog

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        context = browser.new_context(locale="pl-PL", viewport={"width": 1100, "height": 1400})
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))

        page.goto(url + "/")  # the browser asks for Polish
        expect(page).to_have_title("cxplay — konsola konsultanta")
        page.fill("#token", AGENT)
        page.locator("#token").dispatch_event("change")

        # a mistyped type gets a hint; choosing it shows the type's facts
        page.fill("#type", "parcel_lat")
        expect(page.locator("#type-hint")).to_contain_text("parcel_late")
        page.click("#type-hint")
        expect(page.locator("#type")).to_have_value("parcel_late")
        expect(page.locator('fieldset.facts[data-type="parcel_late"]')).to_be_visible()
        expect(page.locator("fieldset.facts:visible")).to_have_count(1)
        page.fill('[data-fact="delay_days"]', "4")

        page.select_option("#channel", "email")
        page.select_option("#language", "pl")
        page.fill("#name", "Anna Kowalska")
        page.fill("#order", "PL-5531")
        page.fill("#value", "249.99")
        page.fill("#currency", "pln")
        page.locator("#currency").press("Enter")  # keyboard: Enter submits the form

        expect(page.locator("#result")).to_be_visible()
        rows = page.locator("#actions tbody tr")
        expect(rows.first).to_contain_text("apology")
        assert rows.count() >= 2
        reply = page.locator("#reply").input_value()
        assert "Anna" in reply or "Pani" in reply, reply

        expect(page.locator("#copy")).to_have_text("Kopiuj odpowiedź")
        page.click("#copy")
        expect(page.locator("#status")).to_have_text("Odpowiedź skopiowana do schowka.")
        assert page.evaluate("navigator.clipboard.readText()") == reply

        page.click("#explain")
        expect(page.locator("#trace")).to_be_visible()
        expect(page.locator("#explain")).to_have_attribute("aria-expanded", "true")
        assert page.locator("#trace tbody tr").count() > 10

        # the agent edits the reply, then records that it went out edited
        page.fill("#reply", reply + "\nPozdrawiam, Ola")
        page.get_by_role("button", name="Wysłano bez zmian").click()  # changed text: edited
        expect(page.locator("#outcome-status")).to_have_text("Zapisano wynik: Wysłano po zmianach")

        page.screenshot(path=str(ARTIFACTS / "console.png"), full_page=True)
        browser.close()

    assert errors == []
    with DecisionLog.open(log_path) as log:
        suggested, explained = log.decisions()  # Explain asks the service again
        assert suggested.status == "edited"
        assert suggested.type == "parcel_late"
        assert explained.status is None
    assert all(seen.startswith(url) for seen in requests), "no asset from the network"


def _browser_page(playwright: Any, url: str, locale: str = "en-GB", **viewport: int) -> Any:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
    context = browser.new_context(
        locale=locale,
        viewport={"width": viewport.get("width", 1366), "height": viewport.get("height", 768)},
    )
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
    return browser, context.new_page()


def _need_browser() -> None:
    need(_has("playwright"), "playwright is not installed (pip install playwright)")
    need(os.path.exists(CHROMIUM), f"{CHROMIUM} is missing (apt-get install -y chromium)")


def test_nothing_of_a_first_incident_stays_usable_after_an_invalid_second(
    server: tuple[str, Path],
) -> None:
    url, _ = server
    _need_browser()
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser, page = _browser_page(playwright, url)
        page.goto(url + "/?lang=en")
        page.fill("#token", AGENT)
        page.locator("#token").dispatch_event("change")
        page.fill("#incident-id", "INC-FIRST")
        page.fill("#type", "parcel_late")
        page.locator("#type").dispatch_event("input")
        page.fill('[data-fact="delay_days"]', "4")
        page.select_option("#channel", "email")
        page.select_option("#language", "en")
        page.fill("#name", "Anna Kowalska")
        page.click("#suggest")
        expect(page.locator("#result")).to_be_visible()
        expect(page.locator("#answers")).to_contain_text("INC-FIRST")
        expect(page.locator("#answers")).to_contain_text("Anna Kowalska")
        first_reply = page.locator("#reply").input_value()
        assert "Anna" in first_reply
        decision = page.locator("#result").get_attribute("data-decision")
        assert decision, "the log is on: the result carries its decision id"
        assert page.locator("#copy").get_attribute("data-decision") == decision

        # the second request is held: while it is out, nothing of the first is on the page
        held: list[Any] = []
        page.route("**/v1/suggest", lambda route: held.append(route))
        page.fill("#incident-id", "INC-SECOND")
        page.fill('[data-fact="delay_days"]', "-5")  # out of the declared range: an error
        page.keyboard.press("Enter")
        expect(page.locator("#result")).to_be_hidden()
        page.wait_for_function("() => true")
        _assert_nothing_usable(page, first_reply)
        assert held, "the request went out"
        held[0].continue_()
        expect(page.locator("#status")).to_contain_text("delay_days")
        expect(page.locator("#status")).to_have_class("error")
        _assert_nothing_usable(page, first_reply)
        # a copy attempt (the button is disabled; its handler refuses too) copies nothing
        page.evaluate("navigator.clipboard.writeText('untouched')")
        page.evaluate("document.getElementById('copy').click()")
        assert page.evaluate("navigator.clipboard.readText()") == "untouched"
        browser.close()


def _assert_nothing_usable(page: Any, first_reply: str) -> None:
    visible_text = page.locator("body").inner_text()
    assert first_reply.splitlines()[0] not in visible_text
    assert "INC-FIRST" not in page.locator("#result").inner_text()
    assert page.locator("#reply").input_value() == ""
    assert page.locator("#actions tbody tr").count() == 0
    enabled = page.locator("#result button:enabled")
    assert enabled.count() == 0, [enabled.nth(i).inner_text() for i in range(enabled.count())]
