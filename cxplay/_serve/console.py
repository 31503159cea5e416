"""The agent console at ``/``: one server-rendered page, a little JavaScript, no build step.

The page is rendered by Jinja with autoescaping (playbook titles and fact descriptions are
data); everything the page shows afterwards comes from the JSON API and is put into the
page with ``textContent``, never as HTML. No asset comes from the network: the script and
the style sheet are served from this package. The page speaks en, pl and uk
(``?lang=``, else the browser's ``Accept-Language``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from cxplay._common.text import closest
from cxplay._serve.service import Service
from cxplay.models import CHANNELS

__all__ = ["LANGUAGES", "TEXTS", "mount_console", "page_language"]

HERE = Path(__file__).parent
LANGUAGES = ("en", "pl", "uk")

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "cxplay — agent console",
        "token": "Access token",
        "incident": "Incident",
        "incident_id": "Incident id (ticket)",
        "answers": "For",
        "no_id": "no incident id",
        "type": "Type",
        "channel": "Channel",
        "language": "Customer's language",
        "name": "Customer's name",
        "tier": "Tier",
        "order": "Order number",
        "value": "Order value",
        "currency": "Currency",
        "facts": "Facts for this type",
        "required": "required",
        "description": "What happened (the customer's words)",
        "suggest": "Suggest",
        "actions": "Recommended actions",
        "action": "Action",
        "reason": "Why",
        "cost": "Cost",
        "approval": "needs approval",
        "reply": "Reply",
        "subject": "Subject",
        "copy": "Copy reply",
        "copied": "Reply copied to the clipboard.",
        "explain": "Explain",
        "rule": "Rule",
        "matched": "Matched",
        "failed": "Failed condition",
        "outcome": "Outcome",
        "accepted": "Sent as suggested",
        "edited": "Sent edited",
        "rejected": "Rejected",
        "recorded": "Outcome recorded:",
        "no_log": "No decision log is configured: outcomes are not recorded.",
        "no_match": "No rule matched this incident.",
        "working": "Working…",
        "severity": "Severity",
        "respond_by": "Respond by",
        "yes": "yes",
        "no": "no",
        "any": "—",
    },
    "pl": {
        "title": "cxplay — konsola konsultanta",
        "token": "Token dostępu",
        "incident": "Zgłoszenie",
        "incident_id": "Numer zgłoszenia",
        "answers": "Dla",
        "no_id": "bez numeru zgłoszenia",
        "type": "Typ",
        "channel": "Kanał",
        "language": "Język klienta",
        "name": "Imię i nazwisko klienta",
        "tier": "Poziom klienta",
        "order": "Numer zamówienia",
        "value": "Wartość zamówienia",
        "currency": "Waluta",
        "facts": "Fakty dla tego typu",
        "required": "wymagane",
        "description": "Co się stało (słowami klienta)",
        "suggest": "Zaproponuj",
        "actions": "Zalecane działania",
        "action": "Działanie",
        "reason": "Dlaczego",
        "cost": "Koszt",
        "approval": "wymaga zatwierdzenia",
        "reply": "Odpowiedź",
        "subject": "Temat",
        "copy": "Kopiuj odpowiedź",
        "copied": "Odpowiedź skopiowana do schowka.",
        "explain": "Wyjaśnij",
        "rule": "Reguła",
        "matched": "Pasuje",
        "failed": "Niespełniony warunek",
        "outcome": "Wynik",
        "accepted": "Wysłano bez zmian",
        "edited": "Wysłano po zmianach",
        "rejected": "Odrzucono",
        "recorded": "Zapisano wynik:",
        "no_log": "Dziennik decyzji nie jest skonfigurowany: wyniki nie są zapisywane.",
        "no_match": "Żadna reguła nie pasuje do tego zgłoszenia.",
        "working": "Pracuję…",
        "severity": "Waga",
        "respond_by": "Odpowiedz do",
        "yes": "tak",
        "no": "nie",
        "any": "—",
    },
    "uk": {
        "title": "cxplay — консоль оператора",
        "token": "Токен доступу",
        "incident": "Звернення",
        "incident_id": "Номер звернення",
        "answers": "Для",
        "no_id": "без номера звернення",
        "type": "Тип",
        "channel": "Канал",
        "language": "Мова клієнта",
        "name": "Ім'я клієнта",
        "tier": "Рівень клієнта",
        "order": "Номер замовлення",
        "value": "Сума замовлення",
        "currency": "Валюта",
        "facts": "Факти для цього типу",
        "required": "обов'язково",
        "description": "Що сталося (словами клієнта)",
        "suggest": "Запропонувати",
        "actions": "Рекомендовані дії",
        "action": "Дія",
        "reason": "Чому",
        "cost": "Вартість",
        "approval": "потребує погодження",
        "reply": "Відповідь",
        "subject": "Тема",
        "copy": "Копіювати відповідь",
        "copied": "Відповідь скопійовано в буфер обміну.",
        "explain": "Пояснити",
        "rule": "Правило",
        "matched": "Збіг",
        "failed": "Невиконана умова",
        "outcome": "Результат",
        "accepted": "Надіслано як є",
        "edited": "Надіслано зі змінами",
        "rejected": "Відхилено",
        "recorded": "Результат записано:",
        "no_log": "Журнал рішень не налаштовано: результати не записуються.",
        "no_match": "Жодне правило не підходить до цього звернення.",
        "working": "Працюю…",
        "severity": "Серйозність",
        "respond_by": "Відповісти до",
        "yes": "так",
        "no": "ні",
        "any": "—",
    },
}

_env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def page_language(query: str | None, accept: str | None) -> str:
    """The page's language: ``?lang=``, else the first supported one the browser accepts."""
    if query in LANGUAGES:
        return query
    for item in (accept or "").split(","):
        tag = item.split(";")[0].strip().lower()
        primary = tag.split("-")[0]
        if primary in LANGUAGES:
            return primary
    return "en"


def mount_console(app: FastAPI, service: Service) -> None:
    """Add ``/`` (the page), ``/console/hint`` (did you mean) and ``/static``."""
    from cxplay._serve.app import playbook_list

    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    template = _env.get_template("console.html")

    @app.get("/", include_in_schema=False)
    async def page(request: Request, lang: str | None = None) -> HTMLResponse:
        language = page_language(lang, request.headers.get("accept-language"))
        listing = playbook_list(service.engine.playbooks)
        context: dict[str, Any] = {
            "t": TEXTS[language],
            "lang": language,
            "languages": LANGUAGES,
            "types": listing.types,
            "channels": CHANNELS,
            "customer_languages": listing.languages,
        }
        return HTMLResponse(template.render(context))

    @app.get("/console/hint", include_in_schema=False)
    async def hint(type: str = Query("", max_length=200)) -> JSONResponse:
        known = [t.type for t in playbook_list(service.engine.playbooks).types]
        if not type or type in known:
            return JSONResponse({"known": bool(type), "did_you_mean": None})
        return JSONResponse({"known": False, "did_you_mean": closest(type, known)})
