"""The words a reply is shaped with, outside any template.

What :class:`~cxplay._replies.renderer.Renderer` needs besides Jinja: the fragment an action
uses and the language a catalog is written in, an action's recovery step, the SMS address
and the sentence after it, money as written or spoken, the Polish formal address, the turns
of a spoken script, the HTML e-mail, and the check that a public reply shows no amount.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from datetime import timezone
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from markupsafe import escape

from cxplay._common.lazy import lazy_pattern
from cxplay._replies.address import address_gender
from cxplay._replies.locale import format_money
from cxplay._replies.spoken import SPOKEN_CHANNELS, money_words, speakable
from cxplay.models import Incident, recovery_step
from cxplay.results import SuggestedAction

_CATALOG = re.compile(r"^(?P<name>[A-Za-z0-9_-]+)\.(?P<lang>en|pl|uk)\.toml$")
# An amount, a currency or a percentage: what a public reply must never show.
_PUBLIC_LEAK = lazy_pattern(
    globals(),
    "_PUBLIC_LEAK",
    r"\d\s*%|%\s*\d|\d[\d\s.,\u00a0\u202f]*\s*(zł|zl|pln|eur|usd|gbp|uah|грн|₴|€|\$|£)"
    r"|(zł|pln|eur|usd|gbp|uah|грн|₴|€|\$|£)\s*\d|\bprocent|\bpercent|відсот|\bvoucher|"
    r"\bbon\b|\brabat|\bzniżk|\bзнижк|\bваучер|\bzwrot\s+(pieniędzy|kosztów)|\brefund|"
    r"повернення\s+(коштів|грошей)",
    re.IGNORECASE,
)


def public_leak(text: str) -> str | None:
    """The first amount, currency, percentage or offer word in ``text``, if any."""
    found = _PUBLIC_LEAK.search(text)
    return found.group(0) if found else None


def _step(action: SuggestedAction) -> str:
    """An action's recovery step by its kind (a gesture with a cost is money)."""
    if action.kind == "gesture" and action.cost is not None:
        return "money"
    return recovery_step(action)


# Greetings an SMS drops: it starts with the name alone ("Anna, your order ...").
_HELLO_WORDS = ("Hi ", "Hello ", "Dzień dobry, ", "Добрий день, ")


def _sms_address(greeting: str, language: str) -> str:
    """``Hi Anna,`` → ``Anna,``; ``Dzień dobry, Pani Anno,`` → ``Pani Anno,``; else ''."""
    for word in _HELLO_WORDS:
        if greeting.startswith(word):
            rest = greeting[len(word) :]
            if language == "uk":
                rest = rest[:1].upper() + rest[1:]  # "Пані Олено," opens the sentence
            return rest
    return ""


_FORMAL_YOU = frozenset({"Ви", "Вас", "Вам", "Вами"})


def data_starts(base: Mapping[str, Any]) -> tuple[str, ...]:
    """The incident's own words a sentence may open with: a session's or a carrier's name.

    Taken from a reply's context (the event, the order and the facts as given); a sentence
    that opens with one of them keeps its capital after the name ("John, Onboarding 101
    failed", not "onboarding 101").
    """
    found: list[str] = []
    for part in ("event", "order", "facts"):
        values = base.get(part)
        if isinstance(values, Mapping):
            found.extend(v for v in values.values() if isinstance(v, str) and v[:1].isupper())
    return tuple(found)


def _lower_first(text: str, keep: tuple[str, ...] = ()) -> str:
    """Lower the first letter of a sentence that now follows the name ("Anna, your ...").

    A sentence opening with one of ``keep`` (the incident's own names) is left as it is.
    """
    if keep and text.startswith(keep):
        return text
    word = text.split(" ", 1)[0].rstrip(",.;:!?")
    letters = word.replace("'", "").replace("\u2019", "")
    if word in _FORMAL_YOU or word.startswith("Ваш"):  # Ukrainian formal "Ви" keeps its capital
        return text
    if letters.isalpha() and word == word.capitalize() and not letters.startswith(("I", "Im")):
        return text[:1].lower() + text[1:]
    return text


def _local_hour(incident: Incident) -> int | None:
    """The hour on the customer's clock when the incident happened (None when unknown)."""
    moment = incident.occurred_at
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    zone = incident.customer.timezone
    return (moment.astimezone(ZoneInfo(zone)) if zone else moment).hour


def _money(amount: float, currency: str, language: str, channel: str) -> str:
    """Money as written, or in words for a script read aloud."""
    if channel in SPOKEN_CHANNELS:
        return money_words(amount, currency, language)
    return format_money(amount, currency, language)


def spoken_turns(body: str) -> list[str]:
    """The turns of a spoken script (``1. ...``), without their numbers."""
    return [_TURN.sub("", t, count=1) for t in body.split("\n\n") if _TURN.match(t)]


_TURN = re.compile(r"^\d+\. ")


def catalog_language(path: Path) -> str | None:
    """The language of a reply catalog named ``<name>.<en|pl|uk>.toml``, else None."""
    match = _CATALOG.match(path.name)
    return match.group("lang") if match else None


def template_name(action: SuggestedAction) -> str:
    """The fragment of an action: ``template``, ``inform.<topic>``, ``gesture.<item>`` or kind."""
    template = action.params.get("template")
    if template:
        return str(template)
    if action.kind == "inform":
        return f"inform.{action.params['topic']}"
    if action.kind == "gesture":
        return f"gesture.{action.params['item']}"
    return action.kind


# Polish formal address by case, for a woman, a man, or a person of unknown gender (the
# plural "Państwo" is the polite form then).
_PL_ADDRESS: Mapping[str | None, Mapping[str, str]] = {
    "female": {
        "nom": "Pani",
        "gen": "Pani",
        "dat": "Pani",
        "acc": "Panią",
        "ins": "Panią",
        "loc": "Pani",
    },
    "male": {
        "nom": "Pan",
        "gen": "Pana",
        "dat": "Panu",
        "acc": "Pana",
        "ins": "Panem",
        "loc": "Panu",
    },
    None: {
        "nom": "Państwo",
        "gen": "Państwa",
        "dat": "Państwu",
        "acc": "Państwa",
        "ins": "Państwem",
        "loc": "Państwu",
    },
}


#: :func:`address_gender` remembered by its arguments (the customer's name and gender, both
#: text or None from a validated incident, and the language): a pure function of them,
#: asked once per reply; the name rules it walks cost ~11,000 instructions a call.
_address_gender: Final = functools.lru_cache(maxsize=1024)(address_gender)


def _address(incident: Incident, language: str) -> dict[str, Any]:
    """Formal-address forms for templates: ``addr.dat`` is "Pani"/"Panu"/"Państwu" in Polish.

    The gender comes from ``customer.gender``, a title, or, only where the rule is sure,
    from a given name followed by a surname (the same decision as the greeting's); a
    lone token tells nothing; otherwise the plural polite form is used.
    """
    customer = incident.customer
    gender = _address_gender(customer.name, language, customer.gender)
    if language != "pl":
        return {"gender": gender}
    return {"gender": gender, "plural": gender is None, **_PL_ADDRESS[gender]}


def _flatten(data: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """``{"situation": {"parcel_late": "..."}}`` -> ``[("situation.parcel_late", "...")]``."""
    out: list[tuple[str, Any]] = []
    for key, value in data.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            out.extend(_flatten(value, name))
        else:
            out.append((name, value))
    return out


def _html_document(body: str, subject: str | None, language: str) -> str:
    """The HTML e-mail: the text body escaped as a whole, paragraphs as ``<p>``.

    Escaping the composed text (rather than only the variables, as autoescape does) means
    no fragment and no customer value can ever put markup into the e-mail.
    """
    # escaped once, as a whole: escaping changes no line break and no white space, so the
    # paragraphs and lines are those of the text, each escaped as it would be alone
    paragraphs = [p for p in str(escape(body)).split("\n\n") if p.strip()]
    html_paragraphs = "\n".join(f"<p>{'<br>'.join(p.splitlines())}</p>" for p in paragraphs)
    title = escape(subject or "")
    return (
        f'<!DOCTYPE html>\n<html lang="{language}">\n<head><meta charset="utf-8">'
        f"<title>{title}</title></head>\n<body>\n{html_paragraphs}\n</body>\n</html>"
    )


#: Words a spoken turn may have before the next action's text starts a turn of its own.
_TURN_WORDS = 80
_PARAGRAPH = re.compile(r"\n[ \t]*\n")


def _fold(text: str) -> str:
    """A fragment as a reply says it: TOML wraps freely, so white space folds.

    Runs of white space become one space; a blank line keeps a paragraph break.
    """
    # white space around the text folds away, whatever it holds (a blank line there only
    # makes an empty paragraph, dropped): without it, a fragment whose {% set %} lines
    # leave line breaks before its text is one paragraph again, folded without the pattern
    text = text.strip()
    # printable text has no white space but the space (every other one, line breaks and
    # no-break spaces included, is not printable), so with no two spaces together it is
    # folded already: most one-line fragments (tests/test_render_fast.py)
    if "  " not in text and text.isprintable():
        return text
    # a blank line is a break, spaces or tabs, and a break: without a break followed by
    # another, a space or a tab there is none, and the text is one paragraph (most are)
    if "\n" not in text or ("\n\n" not in text and "\n " not in text and "\n\t" not in text):
        return " ".join(text.split())
    parts = _PARAGRAPH.split(text)
    if len(parts) == 1:  # no blank line after all: one paragraph
        return " ".join(text.split())
    paragraphs = [" ".join(p.split()) for p in parts]
    return "\n\n".join([p for p in paragraphs if p])


#: The longest text whose folded or speakable form is remembered (a fragment renders, and a
#: spoken turn holds, a few hundred characters), and how many of each are remembered.
_MEMO_CHARS = 2_000
_MEMO_SIZE = 4_096
# A fragment that reads no customer value (an apology, a closing, a situation) renders the
# same text again and again, and a spoken turn made of them is the same turn: folding and
# making it speakable are pure functions of the text (and language), so their results are
# remembered, by the text itself, bounded in count and length.
_fold_memo: Final = functools.lru_cache(maxsize=_MEMO_SIZE)(_fold)
_speakable_memo: Final = functools.lru_cache(maxsize=_MEMO_SIZE)(speakable)


def _folded(text: str) -> str:
    """``_fold(text)``, remembered for a text of up to :data:`_MEMO_CHARS` characters."""
    return _fold_memo(text) if len(text) <= _MEMO_CHARS else _fold(text)


def _said(text: str, language: str) -> str:
    """``speakable(text, language)``, remembered as :func:`_folded` is."""
    if len(text) <= _MEMO_CHARS:
        return _speakable_memo(text, language)
    return speakable(text, language)


def _paragraphs(runs: Sequence[tuple[str, Sequence[str]]], *, spoken: bool) -> list[str]:
    """The paragraphs (spoken: the turns) of a reply's recovery, a run of one step at a time.

    Each text is a fragment as :func:`_fold` leaves it. A list (a text with a line break,
    the options) is a paragraph of its own; the other texts of a run are one paragraph,
    and a spoken turn stays under about forty seconds (:data:`_TURN_WORDS`). The words
    of the texts joined by spaces are the words of each text added up, and a folded text
    of one paragraph has its words between single spaces: counted once per text, not
    split again with the texts before it (``tests/test_render_fast.py``).
    """
    paragraphs: list[str] = []
    for _, texts in runs:
        plain: list[str] = []
        words = 0  # in plain
        for text in texts:
            alone = "\n" in text.strip()
            said = text.count(" ") + 1 if spoken and not alone else 0
            if plain and (alone or words + said > _TURN_WORDS):
                paragraphs.append(" ".join(plain))
                plain = []
                words = 0
            if alone:
                paragraphs.append(text)
            else:
                plain.append(text)
                words += said
        if plain:
            paragraphs.append(" ".join(plain))
    return paragraphs
