"""The agent console at ``/``: one server-rendered page, a little JavaScript, no build step.

The page is rendered by Jinja with autoescaping (playbook titles and fact descriptions are
data); everything the page shows afterwards comes from the JSON API and is put into the
page with ``textContent``, never as HTML. No asset comes from the network: the script and
the style sheet are served from this package. The page speaks en, pl and uk
(``?lang=``, else the browser's ``Accept-Language``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from cxplay._common.style import stylesheet
from cxplay._common.text import closest
from cxplay._serve.common import context_paths, playbook_list
from cxplay._serve.service import Service
from cxplay.models import CHANNELS

__all__ = ["LANGUAGES", "TEXTS", "mount_console", "page_language"]

HERE = Path(__file__).parent
LANGUAGES = ("en", "pl", "uk")

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "cxplay — agent console",
        "token": "Access token",
        "token_hint": "Kept for this browser tab only.",
        "incident": "Incident",
        "incident_id": "Ticket number",
        "type": "What happened",
        "type_hint": "Type to search; choose from the list.",
        "channel": "Channel",
        "language": "Customer's language",
        "name": "Customer's name",
        "customer_id": "Customer number",
        "tier": "Tier",
        "order": "Order number",
        "value": "Order value",
        "currency": "Currency",
        "description": "What happened (the customer's words)",
        "facts": "Details",
        "required": "required",
        "suggest": "Suggest",
        "shortcuts": "Keys: Ctrl+Enter suggests · Alt+Shift+C copies the reply · "
        "Alt+Shift+J the subject · Alt+Shift+A, E, R record the outcome",
        "actions": "Recommended actions",
        "action": "Action",
        "reason": "Why",
        "cost": "Cost",
        "approval": "needs approval",
        "reply": "Reply",
        "subject": "Subject",
        "copy": "Copy reply",
        "copy_subject": "Copy subject",
        "copied": "Reply copied to the clipboard.",
        "copied_subject": "Subject copied to the clipboard.",
        "explain": "Explain",
        "outcome": "Outcome",
        "accepted": "Sent as suggested",
        "edited": "Sent edited",
        "rejected": "Rejected",
        "reject_reason": "Why rejected",
        "given": "Amount actually given",
        "note": "Note",
        "recorded": "Outcome recorded:",
        "no_log": "No decision log is configured: outcomes are not recorded.",
        "no_match": "No rule matched this incident.",
        "working": "Working…",
        "severity": "Severity",
        "respond_by": "Respond by",
        "overdue": "overdue by {d}",
        "in_time": "{d} left",
        "yes": "yes",
        "no": "no",
        "any": "—",
        "answers": "For",
        "no_id": "no ticket number",
        "follow_ups": "Follow-ups",
        "due": "due",
        "sms_count": "{chars} characters · {segments} SMS ({encoding})",
        "script": "Script, turn by turn",
        "matched_rules": "Rules that matched",
        "near_misses": "Near misses (same type, one condition short)",
        "other_rules": "Other rules",
        "condition": "Condition",
        "value_was": "value: {v}",
        "feedback": "Survey answers",
        "feedback_hint": "Enter a customer's answers later, by decision id.",
        "decision": "Decision id",
        "csat": "CSAT (1–5)",
        "nps": "NPS (0–10)",
        "ces": "CES (1–7)",
        "send_feedback": "Save answers",
        "feedback_saved": "Survey answers saved.",
        "history": "Compensations in the last 90 days",
        "history_none": "none",
        "error_details": "Technical details",
        "needed": "{fact} is needed for “{type}”.",
        "out_of_range_min": "{fact} must be at least {n}.",
        "out_of_range_max": "{fact} must be at most {n}.",
        "unknown_type": "Choose what happened from the list.",
        "not_number": "{fact} must be a number.",
        "token_refused": "Your access token was not accepted. Check it, or ask your team lead "
        "for a new one.",
        "token_role": "Your access token does not allow this.",
        "reply_ready": "Reply ready:",
        "low": "Low",
        "medium": "Medium",
        "high": "High",
        "critical": "Critical",
        "refund_amount": "Refund {amount} to the original payment method",
        "refund_percent": "Refund {percent}% of the order value",
        "discount_amount": "{amount} voucher for the next purchase, valid {days}",
        "discount_percent": "{percent}% off the next order, valid {days}",
        "free_shipping_next_order": "Free shipping on the next order",
        "free_shipping_replacement": "Free shipping of the replacement",
        "free_shipping_return": "Free return shipping",
        "replacement": "Send a new item",
        "replacement_express": "Send a new item by express",
        "plan_b": "Offer: {options}",
        "escalate": "Hand over to: {to}",
        "within": "by {when}",
        "follow_up": "Get back to the customer by {when}",
        "callback": "Call the customer back by {when}",
        "inform": "Tell the customer: {topic}",
        "gesture": "Offer: {item}",
        "move_private": "Move the conversation to: {channel}",
        "survey": "{survey} survey, {when}",
        "by_channel": "by {channel}",
        "did_you_mean": "Did you mean: {title}?",
        "recent": "Earlier decisions for this customer",
        "recent_none": "No earlier decisions for this customer.",
        "recent_more": "Earlier: {n}",
        "no_rate": (
            "The order is in {currency} and the playbook has no exchange rate for it, so its "
            "limits (in {policy}) cannot be checked: a person decides."
        ),
        "order_carrier": "Carrier",
        "order_carrier_help": "The delivery company: late parcels are watched per carrier.",
        "event_id": "Event",
        "event_id_help": "The event's id, as in its event file.",
        "event_session": "Session",
        "event_session_help": "The session or webinar, by its name.",
        "event_speaker": "Speaker",
        "event_speaker_help": "The speaker the incident is about.",
        "no_outcome": "no outcome yet",
        "nothing_given": "nothing given",
        "part_of": "Part of: {title} ({key}), {customers}, notice sent {time}",
        "part_of_no_notice": "Part of: {title} ({key}), {customers}, no notice sent yet",
        "link_advice": "Link this ticket to the disruption instead of offering a compensation "
        "of its own: the customer gets the disruption's notice, and its actions are under way.",
        "customers_one": "{n} customer",
        "customers_few": "{n} customers",
        "customers_many": "{n} customers",
        "customers_other": "{n} customers",
    },
    "pl": {
        "title": "cxplay — konsola konsultanta",
        "token": "Token dostępu",
        "token_hint": "Przechowywany tylko w tej karcie przeglądarki.",
        "incident": "Zgłoszenie",
        "incident_id": "Numer zgłoszenia",
        "type": "Co się stało",
        "type_hint": "Zacznij pisać i wybierz z listy.",
        "channel": "Kanał",
        "language": "Język klienta",
        "name": "Imię i nazwisko klienta",
        "customer_id": "Numer klienta",
        "tier": "Poziom klienta",
        "order": "Numer zamówienia",
        "value": "Wartość zamówienia",
        "currency": "Waluta",
        "description": "Co się stało (słowami klienta)",
        "facts": "Szczegóły",
        "required": "wymagane",
        "suggest": "Zaproponuj",
        "shortcuts": "Klawisze: Ctrl+Enter proponuje · Alt+Shift+C kopiuje odpowiedź · "
        "Alt+Shift+J temat · Alt+Shift+A, E, R zapisują wynik",
        "actions": "Zalecane działania",
        "action": "Działanie",
        "reason": "Dlaczego",
        "cost": "Koszt",
        "approval": "wymaga zatwierdzenia",
        "reply": "Odpowiedź",
        "subject": "Temat",
        "copy": "Kopiuj odpowiedź",
        "copy_subject": "Kopiuj temat",
        "copied": "Odpowiedź skopiowana do schowka.",
        "copied_subject": "Temat skopiowany do schowka.",
        "explain": "Wyjaśnij",
        "outcome": "Wynik",
        "accepted": "Wysłano bez zmian",
        "edited": "Wysłano po zmianach",
        "rejected": "Odrzucono",
        "reject_reason": "Powód odrzucenia",
        "given": "Faktycznie przyznana kwota",
        "note": "Notatka",
        "recorded": "Zapisano wynik:",
        "no_log": "Dziennik decyzji nie jest skonfigurowany: wyniki nie są zapisywane.",
        "no_match": "Żadna reguła nie pasuje do tego zgłoszenia.",
        "working": "Pracuję…",
        "severity": "Waga",
        "respond_by": "Odpowiedz do",
        "overdue": "po terminie: {d}",
        "in_time": "zostało: {d}",
        "yes": "tak",
        "no": "nie",
        "any": "—",
        "answers": "Dla",
        "no_id": "bez numeru zgłoszenia",
        "follow_ups": "Dalsze kroki",
        "due": "termin",
        "sms_count": "Znaki: {chars} · SMS-y: {segments} ({encoding})",
        "script": "Scenariusz rozmowy, krok po kroku",
        "matched_rules": "Reguły, które pasują",
        "near_misses": "Prawie pasujące (ten sam typ, jeden warunek niespełniony)",
        "other_rules": "Pozostałe reguły",
        "condition": "Warunek",
        "value_was": "wartość: {v}",
        "feedback": "Odpowiedzi z ankiety",
        "feedback_hint": "Wpisz później odpowiedzi klienta, podając identyfikator decyzji.",
        "decision": "Identyfikator decyzji",
        "csat": "CSAT (1–5)",
        "nps": "NPS (0–10)",
        "ces": "CES (1–7)",
        "send_feedback": "Zapisz odpowiedzi",
        "feedback_saved": "Odpowiedzi z ankiety zapisane.",
        "history": "Rekompensaty w ostatnich 90 dniach",
        "history_none": "brak",
        "error_details": "Szczegóły techniczne",
        "needed": "Pole „{fact}” jest wymagane dla zgłoszenia „{type}”.",
        "out_of_range_min": "Pole „{fact}”: najmniej {n}.",
        "out_of_range_max": "Pole „{fact}”: najwyżej {n}.",
        "unknown_type": "Wybierz z listy, co się stało.",
        "not_number": "Pole „{fact}” musi być liczbą.",
        "token_refused": "Token dostępu nie został przyjęty. Sprawdź go albo poproś "
        "kierownika zespołu o nowy.",
        "token_role": "Ten token dostępu nie pozwala na tę czynność.",
        "reply_ready": "Odpowiedź gotowa:",
        "low": "Niska",
        "medium": "Średnia",
        "high": "Wysoka",
        "critical": "Krytyczna",
        "refund_amount": "Zwrot {amount} na rachunek, z którego opłacono zamówienie",
        "refund_percent": "Zwrot {percent}% wartości zamówienia",
        "discount_amount": "Bon {amount} na następne zakupy, ważny przez {days}",
        "discount_percent": "Rabat {percent}% na następne zamówienie, ważny przez {days}",
        "free_shipping_next_order": "Darmowa wysyłka następnego zamówienia",
        "free_shipping_replacement": "Darmowa wysyłka nowego egzemplarza",
        "free_shipping_return": "Darmowy zwrot",
        "replacement": "Wysłać nowy egzemplarz",
        "replacement_express": "Wysłać nowy egzemplarz ekspresem",
        "plan_b": "Zaproponować: {options}",
        "escalate": "Przekazać: {to}",
        "within": "termin: {when}",
        "follow_up": "Odezwać się do klienta, termin: {when}",
        "callback": "Oddzwonić do klienta, termin: {when}",
        "inform": "Poinformować klienta: {topic}",
        "gesture": "Zaproponować: {item}",
        "move_private": "Przenieść rozmowę: {channel}",
        "survey": "Ankieta {survey}, termin: {when}",
        "by_channel": "kanał: {channel}",
        "did_you_mean": "Czy chodzi o: {title}?",
        "recent": "Wcześniejsze decyzje dla tego klienta",
        "recent_none": "Brak wcześniejszych decyzji dla tego klienta.",
        "recent_more": "Wcześniejsze: {n}",
        "no_rate": (
            "Zamówienie jest w {currency}, a playbook nie ma kursu tej waluty, więc nie da się "
            "sprawdzić limitów (w {policy}): decyduje człowiek."
        ),
        "order_carrier": "Przewoźnik",
        "order_carrier_help": (
            "Firma kurierska; opóźnione przesyłki obserwujemy osobno dla każdego przewoźnika."
        ),
        "event_id": "Wydarzenie",
        "event_id_help": "Identyfikator wydarzenia, jak w jego pliku.",
        "event_session": "Sesja",
        "event_session_help": "Nazwa sesji lub webinaru.",
        "event_speaker": "Prelegent",
        "event_speaker_help": "Prelegent, którego dotyczy zgłoszenie.",
        "no_outcome": "wynik jeszcze niezapisany",
        "nothing_given": "bez rekompensaty",
        "part_of": "Część zakłócenia: {title} ({key}), {customers}, powiadomienie wysłane {time}",
        "part_of_no_notice": "Część zakłócenia: {title} ({key}), {customers}, powiadomienie "
        "jeszcze niewysłane",
        "link_advice": "Powiąż to zgłoszenie z zakłóceniem zamiast przyznawać osobną "
        "rekompensatę: klient dostanie powiadomienie o zakłóceniu, a działania w tej sprawie "
        "już trwają.",
        "customers_one": "{n} klient",
        "customers_few": "{n} klientów",
        "customers_many": "{n} klientów",
        "customers_other": "{n} klienta",
    },
    "uk": {
        "title": "cxplay — консоль оператора",
        "token": "Токен доступу",
        "token_hint": "Зберігається лише в цій вкладці браузера.",
        "incident": "Звернення",
        "incident_id": "Номер звернення",
        "type": "Що сталося",
        "type_hint": "Почніть вводити й виберіть зі списку.",
        "channel": "Канал",
        "language": "Мова клієнта",
        "name": "Ім'я клієнта",
        "customer_id": "Номер клієнта",
        "tier": "Рівень клієнта",
        "order": "Номер замовлення",
        "value": "Сума замовлення",
        "currency": "Валюта",
        "description": "Що сталося (словами клієнта)",
        "facts": "Подробиці",
        "required": "обов'язково",
        "suggest": "Запропонувати",
        "shortcuts": "Клавіші: Ctrl+Enter пропонує · Alt+Shift+C копіює відповідь · "
        "Alt+Shift+J тему · Alt+Shift+A, E, R записують результат",
        "actions": "Рекомендовані дії",
        "action": "Дія",
        "reason": "Чому",
        "cost": "Вартість",
        "approval": "потребує погодження",
        "reply": "Відповідь",
        "subject": "Тема",
        "copy": "Копіювати відповідь",
        "copy_subject": "Копіювати тему",
        "copied": "Відповідь скопійовано в буфер обміну.",
        "copied_subject": "Тему скопійовано в буфер обміну.",
        "explain": "Пояснити",
        "outcome": "Результат",
        "accepted": "Надіслано як є",
        "edited": "Надіслано зі змінами",
        "rejected": "Відхилено",
        "reject_reason": "Причина відхилення",
        "given": "Фактично надана сума",
        "note": "Примітка",
        "recorded": "Результат записано:",
        "no_log": "Журнал рішень не налаштовано: результати не записуються.",
        "no_match": "Жодне правило не підходить до цього звернення.",
        "working": "Працюю…",
        "severity": "Серйозність",
        "respond_by": "Відповісти до",
        "overdue": "прострочено: {d}",
        "in_time": "залишилося: {d}",
        "yes": "так",
        "no": "ні",
        "any": "—",
        "answers": "Для",
        "no_id": "без номера звернення",
        "follow_ups": "Подальші кроки",
        "due": "термін",
        "sms_count": "Символи: {chars} · SMS: {segments} ({encoding})",
        "script": "Сценарій розмови, крок за кроком",
        "matched_rules": "Правила, що збіглися",
        "near_misses": "Майже збіглися (той самий тип, одна умова не виконана)",
        "other_rules": "Інші правила",
        "condition": "Умова",
        "value_was": "значення: {v}",
        "feedback": "Відповіді на опитування",
        "feedback_hint": "Внесіть відповіді клієнта пізніше за ідентифікатором рішення.",
        "decision": "Ідентифікатор рішення",
        "csat": "CSAT (1–5)",
        "nps": "NPS (0–10)",
        "ces": "CES (1–7)",
        "send_feedback": "Зберегти відповіді",
        "feedback_saved": "Відповіді на опитування збережено.",
        "history": "Компенсації за останні 90 днів",
        "history_none": "немає",
        "error_details": "Технічні подробиці",
        "needed": "Поле «{fact}» обов'язкове для звернення «{type}».",
        "out_of_range_min": "Поле «{fact}»: щонайменше {n}.",
        "out_of_range_max": "Поле «{fact}»: щонайбільше {n}.",
        "unknown_type": "Виберіть зі списку, що сталося.",
        "not_number": "Поле «{fact}» має бути числом.",
        "token_refused": "Токен доступу не прийнято. Перевірте його або попросіть у керівника "
        "команди новий.",
        "token_role": "Цей токен доступу не дозволяє цієї дії.",
        "reply_ready": "Відповідь готова:",
        "low": "Низька",
        "medium": "Середня",
        "high": "Висока",
        "critical": "Критична",
        "refund_amount": "Повернути {amount} на рахунок, з якого оплачено замовлення",
        "refund_percent": "Повернути {percent}% вартості замовлення",
        "discount_amount": "Ваучер на {amount} на наступні покупки, дійсний {days}",
        "discount_percent": "Знижка {percent}% на наступне замовлення, дійсна {days}",
        "free_shipping_next_order": "Безкоштовна доставка наступного замовлення",
        "free_shipping_replacement": "Безкоштовна доставка заміни",
        "free_shipping_return": "Безкоштовне повернення",
        "replacement": "Надіслати новий товар",
        "replacement_express": "Надіслати новий товар експресом",
        "plan_b": "Запропонувати: {options}",
        "escalate": "Передати: {to}",
        "within": "термін: {when}",
        "follow_up": "Зв'язатися з клієнтом, термін: {when}",
        "callback": "Передзвонити клієнтові, термін: {when}",
        "inform": "Поінформувати клієнта: {topic}",
        "gesture": "Запропонувати: {item}",
        "move_private": "Перенести розмову: {channel}",
        "survey": "Опитування {survey}, термін: {when}",
        "by_channel": "канал: {channel}",
        "did_you_mean": "Можливо, ви мали на увазі: {title}?",
        "recent": "Попередні рішення щодо цього клієнта",
        "recent_none": "Попередніх рішень щодо цього клієнта немає.",
        "recent_more": "Попередні: {n}",
        "no_rate": (
            "Замовлення у {currency}, а в плейбуку немає курсу цієї валюти, тож ліміти "
            "(у {policy}) перевірити не можна: рішення ухвалює людина."
        ),
        "order_carrier": "Перевізник",
        "order_carrier_help": (
            "Служба доставки; затримки посилок відстежуємо окремо для кожного перевізника."
        ),
        "event_id": "Подія",
        "event_id_help": "Ідентифікатор події, як у її файлі.",
        "event_session": "Сесія",
        "event_session_help": "Назва сесії або вебінару.",
        "event_speaker": "Спікер",
        "event_speaker_help": "Спікер, якого стосується звернення.",
        "no_outcome": "результат ще не записано",
        "nothing_given": "без компенсації",
        "part_of": "Частина збою: {title} ({key}), {customers}, повідомлення надіслано {time}",
        "part_of_no_notice": "Частина збою: {title} ({key}), {customers}, повідомлення ще не "
        "надіслано",
        "link_advice": "Прив'яжіть це звернення до збою замість окремої компенсації: клієнт "
        "отримає повідомлення про збій, а дії щодо нього вже виконуються.",
        "customers_one": "{n} клієнт",
        "customers_few": "{n} клієнти",
        "customers_many": "{n} клієнтів",
        "customers_other": "{n} клієнта",
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


def _currencies(service: Service) -> list[str]:
    """The currencies the playbooks' policies know (their own and their rates), then common ones."""
    found: set[str] = set()
    for playbook in service.engine.playbooks.playbooks:
        if playbook.policy.currency:
            found.add(playbook.policy.currency)
        found.update(playbook.policy.rates)
    return sorted(found | {"EUR", "PLN", "UAH", "USD", "GBP"})


def page_context(service: Service, language: str) -> dict[str, Any]:
    """Everything the page is rendered from: texts, labels, the form's types and facts."""
    playbooks = service.engine.playbooks
    book = playbooks.labels
    listing = playbook_list(playbooks)
    paths = context_paths(playbooks)
    types: list[dict[str, Any]] = []
    fact_names: set[str] = set()
    for info in listing.types:
        facts = []
        for fact in info.facts:
            label = book.fact(fact.name, language)
            spec = playbooks.facts.get(fact.name)
            fact_names.add(fact.name)
            facts.append(
                {
                    "name": fact.name,
                    "type": fact.type,
                    "required": fact.required,
                    "title": label.title if label else fact.name,
                    "unit": label.unit if label else None,
                    "help": (label.help if label else None) or fact.description,
                    "min": spec.min if spec else None,
                    "max": spec.max if spec else None,
                }
            )
        for path in paths.get(info.type, ()):  # the incident's own fields a key reads
            key = path.replace(".", "_")
            facts.append(
                {
                    "name": key,
                    "path": path,
                    "type": "string",
                    "required": False,
                    "title": TEXTS[language][key],
                    "unit": None,
                    "help": TEXTS[language][key + "_help"],
                    "min": None,
                    "max": None,
                }
            )
        types.append({"type": info.type, "title": book.type(info.type, language), "facts": facts})
    types.sort(key=lambda t: str(t["title"]).casefold())
    return {
        "t": TEXTS[language],
        "lang": language,
        "languages": LANGUAGES,
        "types": types,
        "channels": [(c, book.channel(c, language)) for c in CHANNELS],
        "customer_languages": listing.languages,
        "currencies": _currencies(service),
        "auth": service.config.auth,
        "log": service.log is not None,
        "labels": book.for_language(language, [t["type"] for t in types], sorted(fact_names)),
    }


def mount_console(app: FastAPI, service: Service, agent: Sequence[Any] = ()) -> None:
    """Add ``/`` (the page), ``/console/hint`` (did you mean), ``/console/rules`` and ``/static``.

    ``agent``: the dependencies that admit an agent (the token check), for the routes that
    show what the playbooks contain.
    """
    template = _env.get_template("console.html")

    @app.get("/static/cxplay.css", include_in_schema=False)
    async def style() -> Response:
        """The stylesheet every page shares (cxplay/_common/style.css)."""
        return Response(
            stylesheet(),
            media_type="text/css; charset=utf-8",
            headers={"Cache-Control": "max-age=300"},
        )

    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.get("/", include_in_schema=False)
    async def page(request: Request, lang: str | None = None) -> HTMLResponse:
        language = page_language(lang, request.headers.get("accept-language"))
        return HTMLResponse(template.render(page_context(service, language)))

    @app.get("/console/hint", include_in_schema=False)
    async def hint(type: str = Query("", max_length=200)) -> JSONResponse:
        known = [t.type for t in playbook_list(service.engine.playbooks).types]
        if not type or type in known:
            return JSONResponse({"known": bool(type), "did_you_mean": None})
        return JSONResponse({"known": False, "did_you_mean": closest(type, known)})

    @app.get("/console/rules", include_in_schema=False, dependencies=list(agent))
    async def rules() -> JSONResponse:
        """Each rule's condition and incident types: Explain shows why a rule matched."""
        return JSONResponse(
            {
                compiled.id: {
                    "when": compiled.rule.when,
                    "types": sorted(compiled.types) if compiled.types is not None else None,
                }
                for compiled in service.engine.playbooks.rules
            }
        )
