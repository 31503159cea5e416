"""The agent console, end to end in headless Chromium (Debian's, driven by Playwright).

Fill the form (with did-you-mean for a mistyped type), get the ranked actions and the reply,
copy it, open the explanation, record the outcome in the decision log; nothing of an earlier
incident stays usable; the whole flow by keyboard in en, pl and uk; no raw id on the Polish
or Ukrainian page; the reply inside a laptop's viewport; axe-core finds no serious or
critical violation. Screenshots at 480 px and 1366x768 are kept in tests/artifacts/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cxplay._playbooks.loader import load_playbooks
from cxplay.models import ACTION_KINDS, CHANNELS
from tests.components import need
from tests.serving import start_serve

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
AGENT = "console-agent-token-0123"
LATE = {"en": "Late parcel", "pl": "Opóźniona przesyłka", "uk": "Посилка запізнюється"}


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _need_browser() -> None:
    need(_has("playwright"), "playwright is not installed (pip install playwright)")
    need(os.path.exists(CHROMIUM), f"{CHROMIUM} is missing (apt-get install -y chromium)")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    need(shutil.which("uvicorn") is not None or _has("uvicorn"), "the serve extra is not installed")
    log_path = tmp_path_factory.mktemp("log") / "log.db"
    process, port = start_serve(
        "--log", str(log_path), env={**os.environ, "CXPLAY_TOKENS": f"{AGENT}:agent"}
    )
    yield f"http://127.0.0.1:{port}", log_path
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=20)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        launched.close()


def _page(
    browser: Any,
    url: str,
    locale: str = "en-GB",
    width: int = 1366,
    height: int = 768,
    bypass_csp: bool = False,
) -> Any:
    context = browser.new_context(
        locale=locale, viewport={"width": width, "height": height}, bypass_csp=bypass_csp
    )
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    return page


def _login(page: Any, url: str, lang: str | None = None) -> None:
    page.goto(url + "/" + (f"?lang={lang}" if lang else ""))
    page.fill("#token", AGENT)
    page.locator("#token").dispatch_event("change")


def _late_parcel(page: Any, lang: str, days: str = "4", incident_id: str = "") -> None:
    page.fill("#type", LATE[lang])
    page.locator("#type").dispatch_event("input")
    page.fill("#fact-parcel_late-delay_days", days)
    page.select_option("#channel", "email")
    page.select_option("#language", lang)
    page.fill("#name", "Anna Kowalska")
    if incident_id:
        page.fill("#incident-id", incident_id)


def test_an_agent_gets_copies_explains_and_records_a_reply(
    server: tuple[str, Path], browser: Any
) -> None:
    url, log_path = server
    from playwright.sync_api import expect

    from cxplay import DecisionLog

    ARTIFACTS.mkdir(exist_ok=True)
    page = _page(browser, url, locale="pl-PL", width=1100, height=1400)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(url + "/")  # the browser asks for Polish
    expect(page).to_have_title("cxplay — konsola konsultanta")
    page.fill("#token", AGENT)
    page.locator("#token").dispatch_event("change")

    # a mistyped type gets a did-you-mean with the title; choosing it shows the type's facts
    page.fill("#type", "parcel_lat")
    page.locator("#type").dispatch_event("input")
    expect(page.locator("#type-hint")).to_have_text("Czy chodzi o: Opóźniona przesyłka?")
    page.click("#type-hint button")
    expect(page.locator("#type")).to_have_value("Opóźniona przesyłka")
    expect(page.locator('fieldset.facts[data-type="parcel_late"]')).to_be_visible()
    expect(page.locator("fieldset.facts:visible")).to_have_count(1)
    expect(page.locator('label[for="fact-parcel_late-delay_days"]')).to_have_text(
        "Opóźnienie (dni robocze) *"
    )
    page.fill("#fact-parcel_late-delay_days", "4")
    page.select_option("#channel", "email")
    page.select_option("#language", "pl")
    page.fill("#name", "Anna Kowalska")
    page.fill("#order", "PL-5531")
    page.fill("#value", "249.99")
    page.select_option("#currency", "PLN")
    page.locator("#order").press("Enter")  # keyboard: Enter submits the form

    expect(page.locator("#result")).to_be_visible()
    expect(page.locator("#answers")).to_contain_text("Anna Kowalska · Opóźniona przesyłka · E-mail")
    rows = page.locator("#actions tbody tr")
    expect(rows.first).to_contain_text("Przeprosiny")
    assert rows.count() >= 2
    expect(page.locator("#severity")).to_have_class(re.compile(r"\bbadge sev-\w+"))
    reply = page.locator("#reply").input_value()
    assert "Anna" in reply or "Pani" in reply, reply

    expect(page.locator("#copy")).to_have_text("Kopiuj odpowiedź")
    page.click("#copy")
    expect(page.locator("#outcome-status")).to_have_text("Odpowiedź skopiowana do schowka.")
    assert page.evaluate("navigator.clipboard.readText()") == reply
    page.click("#copy-subject")
    assert page.evaluate("navigator.clipboard.readText()") == page.locator("#subject").inner_text()

    page.click("#explain")
    expect(page.locator("#trace")).to_be_visible()
    expect(page.locator("#explain")).to_have_attribute("aria-expanded", "true")
    matched = page.locator("#trace-matched li")
    expect(matched.first).to_contain_text("type == 'parcel_late'")  # the condition, shown
    expect(page.locator("#trace-matched")).to_contain_text('type = "parcel_late"')  # its value
    assert page.locator("#trace-near li").count() >= 1  # a parcel_late rule that failed
    expect(page.locator("#trace-near")).to_contain_text("facts.delay_days")
    assert not page.locator("#trace-other").is_visible()  # the rest is folded
    total = sum(
        page.locator(f"#{k} li").count() for k in ("trace-matched", "trace-near", "trace-other")
    )
    assert total == len(load_playbooks().rules)

    # the agent edits the reply, then records that it went out edited: the text is kept
    page.fill("#reply", reply + "\nPozdrawiam, Ola")
    page.get_by_role("button", name="Wysłano bez zmian").click()  # changed text: edited
    expect(page.locator("#outcome-status")).to_have_text("Zapisano wynik: Wysłano po zmianach")

    # survey answers later, by decision id (filled in from the outcome)
    page.locator("#feedback-box summary").click()
    decision = page.locator("#result").get_attribute("data-decision")
    expect(page.locator("#feedback-decision")).to_have_value(decision or "")
    page.fill("#csat", "4")
    page.fill("#nps", "9")
    page.locator("#feedback button[type=submit]").click()
    expect(page.locator("#feedback-status")).to_have_text("Odpowiedzi z ankiety zapisane.")
    page.screenshot(path=str(ARTIFACTS / "console.png"), full_page=True)
    assert page.errors == []

    with DecisionLog.open(log_path) as log:
        suggested = next(d for d in log.decisions() if d.id == decision)
        assert suggested.status == "edited"
        assert suggested.type == "parcel_late"
        assert "Pozdrawiam, Ola" in (suggested.outcomes[-1]["note"] or "")
        assert (suggested.csat, suggested.nps) == (4, 9)
        # Explain asked about the same incident: one decision seen twice, not two decisions
        assert suggested.views == 2
        assert suggested.incident["id"].startswith("console-")
    assert all(seen.startswith(url) for seen in requests), "no asset from the network"


# --------------------------------------------------------------------------- nothing stale


def _assert_nothing_usable(page: Any, first_reply: str) -> None:
    assert first_reply.splitlines()[0] not in page.locator("body").inner_text()
    assert "INC-FIRST" not in page.locator("#result").inner_text()
    assert page.locator("#reply").input_value() == ""
    assert page.locator("#actions tbody tr").count() == 0
    enabled = page.locator("#result button:enabled")
    assert enabled.count() == 0, [enabled.nth(i).inner_text() for i in range(enabled.count())]


def _first_result(page: Any, url: str) -> tuple[str, str]:
    from playwright.sync_api import expect

    _login(page, url, "en")
    _late_parcel(page, "en", incident_id="INC-FIRST")
    page.click("#suggest")
    expect(page.locator("#result")).to_be_visible()
    expect(page.locator("#answers")).to_contain_text("INC-FIRST · Anna Kowalska · Late parcel")
    first_reply = page.locator("#reply").input_value()
    assert "Anna" in first_reply
    decision = page.locator("#result").get_attribute("data-decision")
    assert decision, "the log is on: the result carries its decision id"
    for button in ("#copy", "#copy-subject", "#explain", '[data-outcome="accepted"]'):
        assert page.locator(button).get_attribute("data-decision") == decision
    return first_reply, decision


def test_nothing_of_a_first_incident_stays_usable_after_a_refused_second(
    server: tuple[str, Path], browser: Any
) -> None:
    url, _ = server
    from playwright.sync_api import expect

    page = _page(browser, url)
    first_reply, _ = _first_result(page, url)

    # the second request is held: while it is out, nothing of the first is on the page
    held: list[Any] = []
    page.route("**/v1/suggest", lambda route: held.append(route))
    page.fill("#incident-id", "INC-SECOND")
    page.fill("#value", "1e300")  # the service refuses an order value this large
    page.locator("#value").press("Enter")
    expect(page.locator("#result")).to_be_hidden()
    _assert_nothing_usable(page, first_reply)
    page.wait_for_timeout(50)
    assert held, "the request went out"
    held[0].continue_()
    expect(page.locator("#value")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#value-error")).to_contain_text("order.value")
    expect(page.locator("#status details")).to_contain_text("order.value")  # technical, folded
    _assert_nothing_usable(page, first_reply)
    # a copy attempt (the button is disabled; its handler refuses too) copies nothing
    page.evaluate("navigator.clipboard.writeText('untouched')")
    page.evaluate("document.getElementById('copy').click()")
    page.keyboard.press("Alt+Shift+KeyC")
    assert page.evaluate("navigator.clipboard.readText()") == "untouched"
    assert page.errors == []


def test_a_late_answer_to_an_earlier_suggest_is_dropped(
    server: tuple[str, Path], browser: Any
) -> None:
    url, _ = server
    from playwright.sync_api import expect

    page = _page(browser, url)
    _login(page, url, "en")
    _late_parcel(page, "en", incident_id="INC-SLOW")
    held: list[Any] = []
    page.route("**/v1/suggest", lambda r: r.continue_() if held else held.append(r))
    page.click("#suggest")
    page.wait_for_timeout(50)
    page.fill("#incident-id", "INC-FAST")
    page.click("#suggest")
    expect(page.locator("#answers")).to_contain_text("INC-FAST")
    held[0].continue_()  # the older request answers last
    page.wait_for_timeout(500)
    expect(page.locator("#answers")).to_contain_text("INC-FAST")
    assert "INC-SLOW" not in page.locator("body").inner_text()


def test_a_missing_required_fact_is_said_next_to_its_field_before_anything_is_sent(
    server: tuple[str, Path], browser: Any
) -> None:
    url, _ = server
    from playwright.sync_api import expect

    page = _page(browser, url)
    first_reply, _ = _first_result(page, url)
    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.url) if "/v1/" in request.url else None)
    page.fill("#fact-parcel_late-delay_days", "")
    page.keyboard.press("Control+Enter")
    field = page.locator("#fact-parcel_late-delay_days")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#fact-parcel_late-delay_days-error")).to_have_text(
        "Delay is needed for “Late parcel”."
    )
    expect(field).to_be_focused()
    _assert_nothing_usable(page, first_reply)
    page.fill("#fact-parcel_late-delay_days", "-5")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#fact-parcel_late-delay_days-error")).to_have_text(
        "Delay must be at least 0."
    )
    assert sent == []


# --------------------------------------------------------------------------- keyboard only


def _tab_to(page: Any, element_id: str, limit: int = 60) -> list[str]:
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.id || document.activeElement.tagName")
        seen.append(focused)
        if focused == element_id:
            return seen
    raise AssertionError(f"Tab never reached #{element_id}: {seen}")


@pytest.mark.parametrize("lang", ["en", "pl", "uk"])
def test_the_whole_flow_works_from_the_keyboard(
    server: tuple[str, Path], browser: Any, lang: str
) -> None:
    url, _ = server
    from playwright.sync_api import expect

    page = _page(browser, url, locale=lang)
    page.goto(url + f"/?lang={lang}")
    order = _tab_to(page, "token")
    page.keyboard.type(AGENT)
    order += _tab_to(page, "type")
    page.keyboard.type(LATE[lang])
    order += _tab_to(page, "fact-parcel_late-delay_days")
    page.keyboard.type("4")
    order += _tab_to(page, "channel")
    page.keyboard.press("ArrowDown")  # the first channel: e-mail
    expect(page.locator("#channel")).to_have_value("email")
    order += _tab_to(page, "name")
    page.keyboard.type("Anna Kowalska")
    # the tab order follows the page: token, type, facts, channel, ..., name
    assert order.index("token") < order.index("type") < order.index("channel") < order.index("name")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none"), "focus is visible"
    page.keyboard.press("Control+Enter")
    expect(page.locator("#result")).to_be_visible()
    expect(page.locator("#reply-box")).to_be_focused()  # focus moves to the reply
    expect(page.locator("#announce")).to_contain_text("Anna Kowalska")
    reply = page.locator("#reply").input_value()
    page.keyboard.press("Alt+Shift+KeyC")
    expect(page.locator("#outcome-status")).not_to_be_empty()
    assert page.evaluate("navigator.clipboard.readText()") == reply
    _tab_to(page, "copy")
    page.keyboard.press("Alt+Shift+KeyA")
    accepted = page.locator('[data-outcome="accepted"]').inner_text()
    expect(page.locator("#outcome-status")).to_contain_text(accepted)
    assert page.locator("#shortcuts").inner_text().count("Alt+Shift") >= 3
    assert page.errors == []


# --------------------------------------------------------------------------- labels, layout


def _english_reasons() -> set[str]:
    """Every rule's (and correlation's) reason and disruption title, as written (English)."""
    playbooks = load_playbooks()
    found = {r.reason for p in playbooks.playbooks for r in p.rules if r.reason}
    for p in playbooks.playbooks:
        found |= {c.reason for c in p.correlations if c.reason}
        found |= {c.title for c in p.correlations if c.title}
    return found


def _ids() -> set[str]:
    playbooks = load_playbooks()
    return (
        set(playbooks.incident_types()) | set(playbooks.facts) | set(CHANNELS) | set(ACTION_KINDS)
    )


VISIBLE_TEXT = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const element = node.parentElement;
    if (!element || element.closest("script, #reply, #script, #trace, datalist")) continue;
    if (!element.checkVisibility()) continue;
    if (node.textContent.trim()) out.push(node.textContent.trim());
  }
  for (const field of document.querySelectorAll("input")) {
    if (field.checkVisibility() && field.id !== "token") out.push(field.value);
  }
  for (const option of document.querySelectorAll("select option")) out.push(option.textContent);
  return out;
}"""


@pytest.mark.parametrize("lang", ["pl", "uk"])
def test_no_raw_id_is_visible_in_the_polish_and_ukrainian_console(
    server: tuple[str, Path], browser: Any, lang: str
) -> None:
    url, _ = server
    from playwright.sync_api import expect

    ids = _ids()
    english = _english_reasons()
    page = _page(browser, url, locale=lang, width=1366, height=900)
    _login(page, url, lang)
    found: dict[str, str] = {}
    titles = page.locator("#types option").evaluate_all("options => options.map(o => o.value)")
    assert len(titles) == len(json.loads(page.locator("#types-data").inner_text()))
    for title in titles:  # every type's form
        page.fill("#type", title)
        page.locator("#type").dispatch_event("input")
        for text in page.evaluate(VISIBLE_TEXT):
            for word in re.findall(r"[a-z][a-z_]+", text):
                if word in ids:
                    found[word] = text
    reasons_seen = 0
    for channel in ("email", "sms", "in_person"):  # and results with every kind of reply
        _late_parcel(page, lang)
        page.select_option("#channel", channel)
        page.keyboard.press("Control+Enter")
        expect(page.locator("#result")).to_be_visible()
        for text in page.evaluate(VISIBLE_TEXT):
            for word in re.findall(r"[a-z][a-z_]+", text):
                if word in ids:
                    found[word] = text
            if any(reason in text for reason in english):  # a reason left in English
                found["reason"] = text
        reasons_seen += page.locator("td.reason").count()
    assert reasons_seen >= 3  # the reasons were on the page, and checked
    assert found == {}
    assert page.errors == []


def test_the_reply_is_inside_a_laptops_viewport_after_suggest(
    server: tuple[str, Path], browser: Any
) -> None:
    url, _ = server
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(exist_ok=True)
    for width, height, name in ((1366, 768, "console-1366x768.png"), (480, 900, "console-480.png")):
        page = _page(browser, url, locale="pl", width=width, height=height)
        _login(page, url, "pl")
        page.fill("#type", "Uszkodzona przesyłka")
        page.locator("#type").dispatch_event("input")
        page.select_option("#channel", "email")
        page.fill("#name", "Anna Kowalska")
        page.fill("#order", "PL-5531")
        page.fill("#value", "249.99")
        page.select_option("#currency", "PLN")
        page.keyboard.press("Control+Enter")
        expect(page.locator("#result")).to_be_visible()
        page.wait_for_timeout(200)
        page.screenshot(path=str(ARTIFACTS / name))
        if width == 1366:
            box = page.locator("#reply").bounding_box()
            assert box["y"] >= 0 and box["y"] + box["height"] <= height, box
            inner = page.evaluate(
                "(() => { const r = document.getElementById('reply'); return [r.scrollHeight, r.clientHeight]; })()"
            )
            assert inner[0] <= inner[1] + 2, f"the reply scrolls inside its box: {inner}"
        assert page.errors == []


def test_sms_shows_its_count_and_a_spoken_reply_its_turns(
    server: tuple[str, Path], browser: Any
) -> None:
    url, _ = server
    from playwright.sync_api import expect

    page = _page(browser, url, locale="pl")
    _login(page, url, "pl")
    _late_parcel(page, "pl")
    page.select_option("#channel", "sms")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#sms-count")).to_be_visible()
    reply = page.locator("#reply").input_value()
    expect(page.locator("#sms-count")).to_contain_text(f"Znaki: {len(reply)}")
    expect(page.locator("#sms-count")).to_contain_text("UCS-2")  # Polish letters
    page.fill("#reply", "Hello Anna")  # the count follows the agent's edits
    expect(page.locator("#sms-count")).to_have_text("Znaki: 10 · SMS-y: 1 (GSM-7)")

    # what an action names is in words, in the agent's language
    expect(page.locator("#actions")).to_contain_text("Poinformować klienta: status dostawy")
    page.select_option("#channel", "phone")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#script")).to_be_visible()
    assert page.locator("#script li").count() >= 4
    expect(page.locator("#script li.direction").first).to_contain_text("pauza", ignore_case=True)
    expect(page.locator("#sms-count")).to_be_hidden()


# --------------------------------------------------------------------------- tokens, a11y


def test_a_refused_token_is_said_in_agent_words(server: tuple[str, Path], browser: Any) -> None:
    url, _ = server
    from playwright.sync_api import expect

    page = _page(browser, url, locale="uk")
    page.goto(url + "/?lang=uk")
    page.fill("#token", "not-a-valid-token")
    page.locator("#token").dispatch_event("change")
    _late_parcel(page, "uk")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#token-error")).to_have_text(
        "Токен доступу не прийнято. Перевірте його або попросіть у керівника команди новий."
    )
    expect(page.locator("#token")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#token")).to_be_focused()
    # kept for this tab only
    assert page.evaluate("sessionStorage.getItem('cxplay-token')") == "not-a-valid-token"
    assert page.evaluate("localStorage.length") == 0
    assert page.evaluate("document.cookie") == ""


def test_without_auth_there_is_no_token_box(browser: Any) -> None:
    from playwright.sync_api import expect

    process, port = start_serve("--no-auth", env=dict(os.environ))
    try:
        url = f"http://127.0.0.1:{port}"
        page = _page(browser, url)
        page.goto(url + "/?lang=en")
        expect(page.locator("#token")).to_have_count(0)
        _late_parcel(page, "en")
        page.keyboard.press("Control+Enter")
        expect(page.locator("#result")).to_be_visible()
        expect(page.locator("#status")).to_contain_text("No decision log is configured")
        assert page.errors == []
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)


def axe_violations(page: Any) -> list[str]:
    """axe-core's serious and critical violations on the page, one line each."""
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_serious_violation_in_the_console(
    server: tuple[str, Path], browser: Any, scheme: str
) -> None:
    url, _ = server
    from playwright.sync_api import expect

    page = _page(browser, url, locale="pl", bypass_csp=True)  # to inject axe-core
    page.emulate_media(color_scheme=scheme)
    _login(page, url, "pl")
    assert axe_violations(page) == []
    _late_parcel(page, "pl")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#result")).to_be_visible()
    page.click("#explain")
    expect(page.locator("#trace")).to_be_visible()
    assert axe_violations(page) == []


def test_the_rules_behind_explain_need_an_agent_token(server: tuple[str, Path]) -> None:
    import urllib.error
    import urllib.request

    url, _ = server
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url + "/console/rules", timeout=10)
    assert refused.value.code == 401
    request = urllib.request.Request(
        url + "/console/rules", headers={"Authorization": f"Bearer {AGENT}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        rules = json.loads(response.read())
    assert rules["parcel.damaged.apologise"] == {
        "when": "type == 'parcel_damaged'",
        "types": ["parcel_damaged"],
    }
    assert len(rules) == len(load_playbooks().rules)


def test_a_repeat_claim_is_visible_before_the_agent_answers(
    server: tuple[str, Path], browser: Any
) -> None:
    url, _ = server
    from playwright.sync_api import expect

    page = _page(browser, url, locale="pl")
    _login(page, url, "pl")
    page.fill("#type", "Uszkodzona przesyłka")
    page.locator("#type").dispatch_event("input")
    page.select_option("#channel", "email")
    page.fill("#customer-id", "C-REPEAT")
    page.fill("#incident-id", "R-1")
    page.fill("#value", "120")
    page.select_option("#currency", "PLN")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#history")).to_have_text("Rekompensaty w ostatnich 90 dniach: brak")
    page.keyboard.press("Alt+Shift+KeyA")  # accepted: the refund counts from now on
    expect(page.locator("#outcome-status")).to_contain_text("Zapisano wynik")
    page.fill("#incident-id", "R-2")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#history")).to_have_text(
        "Rekompensaty w ostatnich 90 dniach: 1 (120,00 zł)"
    )
    expect(page.locator("#history")).to_have_class("note warn")
    # the earlier decision itself, in words (labels, not ids), above the reply
    recent = page.locator("#recent")
    expect(recent).to_be_visible()
    expect(recent.locator("strong")).to_have_text("Wcześniejsze decyzje dla tego klienta")
    expect(recent.locator("li")).to_have_count(1)
    line = recent.locator("li").first.inner_text().replace("\xa0", " ")
    when, kind, actions, given, outcome = line.split(" · ")
    assert re.fullmatch(r"\d\d:\d\d", when), when  # today: the time
    assert (kind, outcome) == ("Uszkodzona przesyłka", "Wysłano bez zmian")
    assert actions.startswith("Przeprosiny, Zwrot pieniędzy"), actions
    assert given.startswith("Zwrot pieniędzy 120,00 zł"), given
    for raw in ("parcel_damaged", "apology", "refund", "accepted"):
        assert raw not in line, line
    expect(recent).to_have_class("note warn")  # it gave compensation
    # a third customer's ticket: nothing of C-REPEAT's history
    page.fill("#customer-id", "C-NEW")
    page.fill("#incident-id", "R-3")
    page.keyboard.press("Control+Enter")
    expect(recent.locator("li")).to_have_text(["Brak wcześniejszych decyzji dla tego klienta."])
    assert page.errors == []


def test_an_incident_of_an_open_disruption_says_so_and_advises_linking(
    server: tuple[str, Path], browser: Any, tmp_path: Path
) -> None:
    import subprocess
    import sys
    from datetime import datetime, timedelta, timezone

    from playwright.sync_api import expect

    url, log_path = server
    start = datetime.now(timezone.utc) - timedelta(hours=3)
    source = tmp_path / "wave.jsonl"
    lines = []
    for n in range(21):  # parcel.carrier_wave: 20 late parcels of one carrier within 2 h
        incident = {
            "id": f"WAVE-{n}",
            "type": "parcel_late",
            "occurred_at": (start + timedelta(minutes=5 * n)).isoformat(),
            "channel": "email",
            "customer": {"id": f"WAVE-C-{n}", "language": "pl"},
            "order": {"value": 120, "currency": "PLN", "carrier": "InPost"},
            "facts": {"delay_days": 3},
        }
        lines.append(json.dumps(incident) + "\n")
    source.write_text("".join(lines), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("CXPLAY_PLAYBOOKS", "CXPLAY_LOG")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cxplay",
            "watch",
            str(source),
            "--log",
            str(log_path),
            "--no-suggestions",
        ],
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr

    for lang, words in (
        (
            "pl",
            (
                "Część zakłócenia: ",
                "(InPost), 21 klientów, powiadomienie wysłane ",
                "Powiąż to zgłoszenie z zakłóceniem",
            ),
        ),
        (
            "uk",
            (
                "Частина збою: ",
                "(InPost), 21 клієнт, повідомлення надіслано ",
                "Прив'яжіть це звернення до збою",
            ),
        ),
    ):
        page = _page(browser, url, locale=lang, bypass_csp=True)  # to inject axe-core
        _login(page, url, lang)
        _late_parcel(page, lang, incident_id="WAVE-7")  # the ticket of a member
        page.fill("#customer-id", "WAVE-C-7")
        page.keyboard.press("Control+Enter")
        panel = page.locator("#disruption")
        expect(panel).to_be_visible()
        expect(page.locator("#recent")).to_be_visible()  # no earlier decision: said so
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            assert axe_violations(page) == [], scheme
        text = panel.inner_text()
        for part in words:
            assert part in text, text
        assert "parcel.carrier_wave" not in text and "D-" not in text  # the id in a tooltip
        assert (panel.get_attribute("title") or "").startswith("D-")
        # another ticket, not part of it: the panel is gone
        _late_parcel(page, lang, incident_id="NOT-IN-WAVE")
        page.keyboard.press("Control+Enter")
        expect(page.locator("#answers")).to_contain_text("NOT-IN-WAVE")
        expect(panel).to_be_hidden()
        # a new ticket of the same carrier, typed in by the agent: part of it by its key
        carrier = page.locator("#fact-parcel_late-order_carrier")
        expect(carrier).to_be_visible()
        carrier.fill("InPost")
        _late_parcel(page, lang, incident_id="NEW-INPOST")
        page.keyboard.press("Control+Enter")
        expect(page.locator("#answers")).to_contain_text("NEW-INPOST")
        expect(panel).to_be_visible()
        assert words[1] in panel.inner_text()
        carrier.fill("")
        assert page.errors == []


def test_the_sms_count_agrees_with_the_service_for_any_text(
    server: tuple[str, Path], browser: Any
) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from playwright.sync_api import expect

    from cxplay._replies.sms import sms_segments

    page = _page(browser, url := server[0], locale="en")
    _login(page, url, "en")
    _late_parcel(page, "en")
    page.select_option("#channel", "sms")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#sms-count")).to_be_visible()
    letters = "aZ09 .,!@£$¥èÇ\nΔ_ÄÖÑÜ§¿" + "^{}\\[~]|€" + "ąęłńóśźżĄŁ" + "їєґЇЄҐщ" + "😀🚚"
    lengths = st.sampled_from([0, 1, 2, 60, 69, 70, 71, 134, 135, 159, 160, 161, 306, 307])

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def agrees(data: st.DataObject) -> None:
        size = data.draw(lengths)
        text = data.draw(st.text(alphabet=letters, min_size=size, max_size=size))
        page.locator("#reply").fill(text)
        segments, encoding = sms_segments(text)
        shown = page.locator("#sms-count").inner_text()
        assert f"{segments} SMS ({encoding})" in shown, (text, shown)

    agrees()


def test_a_long_history_leaves_the_warning_and_the_reply_on_a_laptop_screen(
    server: tuple[str, Path], browser: Any
) -> None:
    """Five earlier decisions: the warning and the whole reply still fit after Suggest.

    The history line sits in the box Suggest scrolls to; the oldest decisions are folded.
    """
    url, log_path = server
    from playwright.sync_api import expect

    from cxplay import DecisionLog, Engine

    with DecisionLog.open(log_path) as log, Engine.from_path(log=log) as engine:
        for n in range(5):
            past = engine.suggest(
                {
                    "id": f"H-{n}",
                    "type": "parcel_damaged",
                    "channel": "email",
                    "customer": {"id": "C-MANY", "name": "Anna Kowalska", "language": "pl"},
                    "order": {"id": f"PL-{n}", "value": 80 + n, "currency": "PLN"},
                }
            )
            assert past.decision_id is not None
            log.outcome(past.decision_id, "accepted")
    page = _page(browser, url, locale="pl", width=1366, height=768)
    _login(page, url, "pl")
    page.fill("#type", "Uszkodzona przesyłka")
    page.locator("#type").dispatch_event("input")
    page.select_option("#channel", "email")
    page.fill("#name", "Anna Kowalska")
    page.fill("#customer-id", "C-MANY")
    page.fill("#incident-id", "H-NEW")
    page.fill("#value", "120")
    page.select_option("#currency", "PLN")
    page.keyboard.press("Control+Enter")
    # the newest three in view, the other two folded under "Wcześniejsze: 2"
    expect(page.locator("#recent-list > li")).to_have_count(4)
    expect(page.locator("#recent-list summary")).to_have_text("Wcześniejsze: 2")
    expect(page.locator("#history")).to_have_class("note warn")
    page.wait_for_timeout(200)
    for panel in ("#history", "#reply"):
        box = page.locator(panel).bounding_box()
        assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 768, (
            panel,
            box,
        )
    assert page.errors == []


@pytest.mark.parametrize("dated", [True, False])
def test_the_consoles_no_rate_reason_reads_the_engines_message(dated: bool) -> None:
    """The console says why a person decides in the agent's language.

    It reads the engine's English reason: the pattern in console.js must keep matching it.
    """
    import datetime as dt

    from cxplay._engine.decide import _no_rate
    from cxplay.models import Policy

    script = (Path(__file__).resolve().parent.parent / "cxplay/_serve/static/console.js").read_text(
        encoding="utf-8"
    )
    found = re.search(r"const match = /(.+?)/\.exec\(because\)", script)
    assert found is not None, "the pattern is gone from console.js"
    policy = Policy(currency="PLN", rates_as_of=dt.date(2026, 11, 1) if dated else None)
    message = _no_rate("JPY", policy)
    match = re.match(found.group(1), message)
    assert match is not None, message
    assert match.groups() == ("JPY", "PLN")
