"""Render the reply: Jinja fragments composed into one message per language and channel.

Where templates live
    ``<playbooks>/replies/<catalog>.<lang>.toml`` -- TOML tables of *fragments*, each a
    Jinja source string. ``common.en.toml`` holds what every playbook shares; a playbook
    may add its own catalog (``parcel.pl.toml``). A fragment defined twice for the same
    language is an error. ``<playbooks>/replies/config.toml`` names the company and agent.

Which fragments a reply uses, in this order
    ``greeting`` (derived by :func:`cxplay._replies.address.salutation`), ``apology``,
    ``situation.<incident type>`` (what happened, and that we understand what it means),
    then every other action's fragment in the playbook's *declared* order (rules in file
    order, actions in rule order; ``plan_b`` renders its options from ``option.<id>``), a
    paragraph -- a spoken turn -- per run of one recovery step (``care``: safety and
    comfort; ``fix``: the remedy and when; ``money``; ``paperwork``; an action's ``step``
    or its kind's), so the order of a recovery is the playbook's to set; ``closing``
    (when the customer hears from us), ``open_question`` (spoken channels), and the
    sign-off (:func:`cxplay._replies.address.sign_off` with the agent and company of
    ``config.toml``).
    An action's fragment is its ``template`` or its ``kind``. E-mail subjects come from
    ``subject.<incident type>`` or ``subject``.

Channel variants
    ``name@channel`` wins over ``name`` (``apology@sms``); in person, a ``name@phone``
    variant comes next (both are spoken). SMS and public replies use the
    short variants; a public reply (``social_public``) never includes remedies, and
    :func:`check` refuses any public rendering that shows an amount, a currency or a
    percentage.

Safety
    Fragments run in Jinja's :class:`~jinja2.sandbox.SandboxedEnvironment` with
    :class:`~jinja2.StrictUndefined` and size limits (:mod:`cxplay._replies.sandbox`: no
    100 MB strings, no 100-million-item loops); customer values (name, description, facts) are only
    ever *data* in the context, so ``{{ 7*7 }}`` in a name is printed as is. The HTML body
    of an e-mail is the composed text escaped as a whole: stricter than autoescape, no
    fragment or value can put markup into it.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final

from jinja2 import TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.exceptions import TemplateError as JinjaTemplateError
from pydantic import ValidationError

from cxplay._common.fields import DEFAULT_CHANNEL
from cxplay._common.files import toml_files
from cxplay._common.models import trusted
from cxplay._common.problems import (
    KeyPath,
    allowed_keys,
    error_message,
    format_key,
    key_path,
)
from cxplay._common.toml import LineIndex, read_toml
from cxplay._replies.address import (
    salutation,
    sign_off,
    spoken_greeting,
)
from cxplay._replies.compiled import from_string as compiled_template
from cxplay._replies.config import ReplyConfig, ReplyContext, _ConfigFile
from cxplay._replies.filters import register_filters
from cxplay._replies.later import _LATER, _action_info, _fill, _Later, _whole
from cxplay._replies.locale import (
    LANGUAGE_VAR,
    TIMEZONE_VAR,
    negotiate,
)
from cxplay._replies.sandbox import MAX_OUTPUT, ReplyEnvironment, Scope, render_capped, scope_of
from cxplay._replies.shaping import (
    _CATALOG,
    _MEMO_CHARS,
    _flatten,
    _fold,
    _fold_memo,
    _html_document,
    _local_hour,
    _lower_first,
    _money,
    _paragraphs,
    _said,
    _sms_address,
    _step,
    catalog_language,
    data_starts,
    public_leak,
)
from cxplay._replies.shaping import spoken_turns as spoken_turns
from cxplay._replies.shaping import template_name as template_name
from cxplay._replies.spoken import SPOKEN_CHANNELS
from cxplay.errors import LoadError, Problem, RenderError, TemplateError
from cxplay.models import CHANNELS, COMPENSATION_KINDS, Incident
from cxplay.results import Reply, SuggestedAction

__all__ = ["SECTIONS", "Renderer", "ReplyContext", "catalog_language", "public_leak"]

REMEDY_KINDS = ("refund", "replacement", "free_shipping", "discount", "gesture")
NEXT_KINDS = ("inform", "escalate", "callback", "follow_up", "move_private", "survey")
#: Section of the reply each action kind goes to.
SECTIONS: Mapping[str, str] = {
    "apology": "apology",
    **{k: "remedy" for k in REMEDY_KINDS},
    "plan_b": "plan_b",
    **{k: "next" for k in NEXT_KINDS},
}


def sms_segments(text: str) -> tuple[int, str]:
    """:func:`cxplay._replies.sms.sms_segments`, its module imported by the first SMS reply.

    The GSM alphabet's patterns cost ~0.5 % of a cold ``cxplay suggest`` that writes no
    SMS. The first call puts the real function in this name's place: later calls are
    direct (``tests/test_layout.py`` checks an e-mail reply leaves the module unimported).
    """
    from cxplay._replies import sms

    globals()["sms_segments"] = sms.sms_segments
    return sms.sms_segments(text)


def _with(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``{**base, **extra}``; a reply's :class:`Scope` stays one (its globals merged)."""
    if type(base) is Scope:
        _whole(base)  # the copy holds every value, built once in the reply's own scope
        return base.extended(extra)
    return {**base, **extra}


_ABSENT: Final = object()


def _starts(base: Mapping[str, Any]) -> tuple[str, ...]:
    """:func:`data_starts` of a reply's scope, whose ``event`` it reads built first."""
    _whole(base, ("event",))
    return data_starts(base)


#: A fragment looked up for (language, name, channel): see :meth:`Renderer._prepare`.
_Ready = tuple[str | None, str | None, Any, frozenset[str]]

#: :func:`salutation` remembered by its arguments, as the composition calls it: the
#: customer's name, title and gender (text or None, validated), the language, the
#: playbook's tone and the channel. It is a pure function of them (its errors are not
#: kept: raised again on the next call), and walks the name rules and the language's
#: openings, ~20,000 instructions a call. ``tests/test_render_fast.py`` holds it equal.
_salutation: Final = functools.lru_cache(maxsize=1024)(salutation)

_FRAGMENT_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*(@[a-z_]+)?$")


def _env() -> ReplyEnvironment:
    env = ReplyEnvironment()
    register_filters(env)
    return env


class _LazyLine:
    """The line of a fragment's text in its catalog, found when first asked for."""

    __slots__ = ("index", "name")

    def __init__(self, index: LineIndex, name: str) -> None:
        self.index, self.name = index, name

    def __call__(self) -> int | None:
        found = self.index.text_line(tuple(self.name.split(".")))
        return found or self.index.text_line((self.name,))


class _Origins(dict[tuple[str, str], str]):
    """(language, fragment) -> ``file:line``, each line found when an error first needs it.

    Finding lines scans the catalog's text (a pure-Python pass over every file, a fifth of a
    CLI start); a reply that renders never needs one.
    """

    def __init__(self) -> None:
        super().__init__()
        self._pending: dict[tuple[str, str], tuple[Path, _LazyLine]] = {}

    def later(self, key: tuple[str, str], path: Path, line: _LazyLine) -> None:
        """Remember where ``key`` is written; its line is looked up on first use."""
        self._pending[key] = (path, line)

    def __missing__(self, key: tuple[str, str]) -> str:
        path, line = self._pending[key]  # KeyError for a fragment never read, as a dict
        where = self[key] = f"{path}:{line() or 1}"
        return where


class Renderer:
    """Loads reply fragments once, compiles them, and renders replies."""

    def __init__(
        self, directories: Iterable[Path], *, problems: list[Problem] | None = None
    ) -> None:
        """Find the catalogs of ``directories`` and read their ``config.toml``.

        Raises:
            TemplateError: a catalog is misnamed or a config is invalid -- unless
                ``problems`` is given: then they are added to it and the rest still loads.
        """
        # Catalogs are parsed per language on first use by a caller that renders one
        # language and exits (the CLI); an engine calls `whole()` (validate `load_all()`),
        # so that what it serves is read at once and never changes under it.
        self._catalogs: dict[str, list[Path]] = {}  # language -> catalog files
        self._fragments: dict[str, dict[str, str]] = {}  # language -> name -> source
        self._lock = threading.Lock()
        self.origin = _Origins()  # (language, name) -> file:line
        self.config = ReplyConfig()
        self.signatures: dict[str, ReplyConfig] = {}  # playbook id -> who signs its replies
        self.directories = [d for d in directories if d.is_dir()]
        found: list[Problem] = []
        for directory in self.directories:
            self._load_dir(directory, found)
        if found and problems is None:
            raise TemplateError(found)
        if problems is not None:
            problems.extend(found)
        # Compiled on first use: a CLI call renders a dozen fragments, not hundreds.
        # `check()` (cxplay validate) compiles and test-renders every one of them.
        self._env = _env()
        self._compiled: dict[tuple[str, str], Any] = {}
        # (language, name, channel) -> the fragment chosen for it (None: there is none)
        self._picked: dict[tuple[str, str, str], str | None] = {}
        # (language, fragment) -> its folded text when it is plain text (no Jinja at all),
        # else None: a third of the fragments a reply uses, said without rendering
        self._plain: dict[tuple[str, str], str | None] = {}
        # (language, name, channel) -> (the fragment chosen, its plain text, its template):
        # the three look-ups above, once per fragment a reply asks for
        # and the names of _LATER its text spells (all a render of it can read of them)
        self._ready: dict[tuple[str, str, str], _Ready] = {}

    def template(self, language: str, name: str) -> Any:
        """The compiled fragment; a syntax error is a TemplateError naming file and line."""
        key = (language, name)
        compiled = self._compiled.get(key)
        if compiled is None:
            try:
                compiled = compiled_template(self._env, self.names(language)[name])
            except TemplateSyntaxError as exc:
                file, _, line = self.origin[key].rpartition(":")
                raise TemplateError(
                    [
                        Problem(
                            f"template does not parse: {exc.message}",
                            file=file,
                            line=int(line) + (exc.lineno or 1) - 1,
                            key=f"{name} ({language})",
                        )
                    ]
                ) from None
            self._compiled[key] = compiled
        return compiled

    @property
    def environment(self) -> ReplyEnvironment:
        """The sandbox the fragments compile in (for checks that parse them)."""
        return self._env

    @property
    def languages(self) -> list[str]:
        """Languages that have at least one fragment."""
        return sorted(self._catalogs)

    def _load_dir(self, directory: Path, problems: list[Problem]) -> None:
        config = directory / "config.toml"
        if config.is_file():
            try:
                data, index = read_toml(config)
                parsed = _ConfigFile.model_validate(data)
            except LoadError as exc:
                problems.extend(exc.problems)
            except ValidationError as exc:
                seen: set[KeyPath] = set()
                for error in exc.errors():
                    where = key_path(error["loc"])
                    if where in seen:
                        continue  # `agent` is text or a table: one line, not one per form
                    seen.add(where)
                    unknown = error["type"] == "extra_forbidden"
                    problems.append(
                        Problem(
                            error_message(error, known=allowed_keys(_ConfigFile, where[:-1])),
                            file=str(config),
                            line=index.line(where),
                            key=format_key(where[:-1] if unknown else where) or None,
                        )
                    )
            else:
                self.config = parsed.apply(self.config)
                self.signatures.update(
                    {pid: sig.apply(self.config) for pid, sig in parsed.signature.items()}
                )
        files, broken = toml_files(directory)
        problems.extend(Problem(f"{reason}: fix or remove it", file=str(p)) for p, reason in broken)
        for path in files:
            if path.name == "config.toml":
                continue
            match = _CATALOG.match(path.name)
            if not match:
                problems.append(
                    Problem(
                        "reply catalogs are named <name>.<en|pl|uk>.toml", file=str(path), line=1
                    )
                )
                continue
            self._catalogs.setdefault(match.group("lang"), []).append(path)

    def names(self, language: str) -> dict[str, str]:
        """The fragments of one language (name -> source), parsed on first use."""
        found = self._fragments.get(language)
        if found is not None:
            return found
        with self._lock:
            found = self._fragments.get(language)
            if found is None:
                problems: list[Problem] = []
                found = self._parse(language, problems)
                if problems:
                    raise TemplateError(problems)
                self._fragments[language] = found
        return found

    def load_all(self) -> list[Problem]:
        """Parse every catalog of every language; return what is wrong with them."""
        problems: list[Problem] = []
        for language in self._catalogs:
            if language not in self._fragments:
                parsed = self._parse(language, problems)
                with self._lock:
                    self._fragments.setdefault(language, parsed)
        return problems

    def whole(self) -> Renderer:
        """Parse every catalog of every language now, so that nothing is read later.

        Raises:
            TemplateError: what is wrong with the catalogs.
        """
        problems = self.load_all()
        if problems:
            raise TemplateError(problems)
        return self

    def _parse(self, language: str, problems: list[Problem]) -> dict[str, str]:
        target: dict[str, str] = {}
        for path in self._catalogs.get(language, ()):
            try:
                data, index = read_toml(path)
            except LoadError as exc:
                problems.extend(exc.problems)
                continue
            for name, source in _flatten(data):
                line = _LazyLine(index, name)
                if not isinstance(source, str):
                    problems.append(
                        Problem(
                            "a fragment must be a string", file=str(path), line=line(), key=name
                        )
                    )
                    continue
                if not _FRAGMENT_NAME.match(name):
                    problems.append(
                        Problem(
                            "fragment names are lowercase words: name, name.sub or name@channel",
                            file=str(path),
                            line=line(),
                            key=name,
                        )
                    )
                    continue
                if name in target:
                    problems.append(
                        Problem(
                            f"fragment defined twice (also in {self.origin[(language, name)]})",
                            file=str(path),
                            line=line(),
                            key=name,
                        )
                    )
                    continue
                channel = name.partition("@")[2]
                if channel and channel not in CHANNELS:
                    problems.append(
                        Problem(
                            f"unknown channel '{channel}'", file=str(path), line=line(), key=name
                        )
                    )
                    continue
                target[name] = source.strip("\n")
                self.origin.later((language, name), path, line)
        return target

    # -- lookup ------------------------------------------------------------------------

    def config_for(self, playbook: str | None) -> ReplyConfig:
        """Who signs replies led by this playbook (its ``[signature.<id>]``, else the default)."""
        return self.signatures.get(playbook or "", self.config)

    def has(self, language: str, name: str, channel: str | None = None) -> bool:
        """Whether a fragment (or its channel variant) exists."""
        names = self.names(language) if language in self._catalogs else {}
        return (channel is not None and f"{name}@{channel}" in names) or name in names

    def has_variant(self, language: str, name: str, channel: str) -> bool:
        """Whether ``name@channel`` exists."""
        return language in self._catalogs and f"{name}@{channel}" in self.names(language)

    def _pick(self, language: str, name: str, channel: str) -> str | None:
        key = (language, name, channel)
        try:
            return self._picked[key]
        except KeyError:
            chosen = self._picked[key] = self._choose(language, name, channel)
            return chosen

    def _choose(self, language: str, name: str, channel: str) -> str | None:
        names = self.names(language) if language in self._catalogs else {}
        # at the desk the agent speaks as on the phone: a phone variant serves in person too
        spoken: tuple[str, ...] = (f"{name}@phone",) if channel == "in_person" else ()
        for candidate in (f"{name}@{channel}", *spoken, name):
            if candidate in names:
                return candidate
        return None

    def _prepare(self, language: str, name: str, channel: str) -> _Ready:
        """What ``fragment`` needs for (language, name, channel), looked up once.

        The fragment chosen (None: there is none), its text when it is plain, else its
        compiled template and the names of :data:`_LATER` its text spells. A fragment
        that does not compile raises, and is not kept.
        """
        chosen = self._pick(language, name, channel)
        plain: str | None = None
        template: Any = None
        reads: frozenset[str] = frozenset()
        if chosen is not None:
            key = (language, chosen)
            try:
                plain = self._plain[key]
            except KeyError:
                source = self.names(language)[chosen]
                if "{" not in source and "\r" not in source and len(source) <= MAX_OUTPUT:
                    plain = _fold(source)  # what rendering it would give, byte for byte
                self._plain[key] = plain
            if plain is None:
                template = self.template(language, chosen)
                source = self.names(language)[chosen]
                reads = frozenset(n for n in _LATER if n in source)
        ready = self._ready[(language, name, channel)] = (chosen, plain, template, reads)
        return ready

    def _plain_action(
        self, language: str, name: str, channel: str, action: SuggestedAction
    ) -> str | None:
        """An action's fragment when it is plain text (it reads no context), else None.

        Then the action's context is not built: nothing in it could change the text, and
        building it raises nothing for an action the engine decided (its cost is in a
        known currency). A ``plan_b`` is never taken here: its options are rendered with
        its context, and a missing option is an error even under a plain fragment.
        """
        if action.kind == "plan_b":
            return None
        try:
            return self._ready[(language, name, channel)][1]
        except KeyError:
            return self._prepare(language, name, channel)[1]

    def fragment(
        self, language: str, name: str, channel: str, context: Mapping[str, Any]
    ) -> str | None:
        """Render one fragment (None when it does not exist)."""
        try:
            chosen, plain, template, reads = self._ready[(language, name, channel)]
        except KeyError:
            chosen, plain, template, reads = self._prepare(language, name, channel)
        if chosen is None:
            return None
        if plain is not None:
            return plain
        if reads:
            _whole(context, reads)
        try:
            rendered = render_capped(template, context)
        except (
            UndefinedError,
            SecurityError,
            JinjaTemplateError,
            ValueError,
            TypeError,
            ArithmeticError,  # OverflowError, ZeroDivisionError: {{ 1 / 0 }}
            LookupError,  # {{ [][3] }}, a missing key of a plain dict
            RecursionError,
        ) as exc:
            raise RenderError(
                f"{self.origin[(language, chosen)]}: {chosen} ({language}): {exc}"
            ) from None
        # _folded(rendered), without its call
        return _fold_memo(rendered) if len(rendered) <= _MEMO_CHARS else _fold(rendered)

    # -- composition -------------------------------------------------------------------

    def _summary(self, incident: Incident, language: str, base: Mapping[str, Any]) -> str:
        """What happened, in a few words, for the agent to repeat back (the SMS line)."""
        for name in (f"situation.{incident.type}", "situation"):
            if self.has_variant(language, name, "sms"):  # said aloud: numbers in words
                return self.fragment(language, name, "sms", base) or ""
        return ""

    def _script(
        self,
        language: str,
        channel: str,
        base: Mapping[str, Any],
        *,
        greeting: str,
        opening: str,
        summary: str,
        offer: Sequence[str],
        nexts: str,
        question: str,
        closing: str,
    ) -> str:
        """A phone or desk reply as a script: short numbered turns, pauses to listen.

        Active listening: the agent apologises and names what happened, then listens,
        repeats back what they heard (``script.paraphrase``) and only then offers the remedy;
        an open question and a second pause come before the close. Amounts and durations
        are words already (the filters see a spoken channel); order numbers are not read out.
        """

        def one(name: str, **extra: Any) -> str:
            context = _with(base, extra) if extra else base
            return self.fragment(language, name, channel, context) or ""

        def flat(text: str) -> str:  # a turn is said in one go: no paragraphs inside it
            # folded texts: white space is single spaces but where a line breaks
            return " ".join(text.split()) if "\n" in text else text

        lower = bool(opening) and greeting.endswith(",")
        starts = _starts(base) if lower or summary else ()
        if lower:
            opening = _lower_first(opening, starts)  # "Dzień dobry, Panie Tomaszu, bardzo …"

        def said(turn: str) -> str:  # [notes for the agent] are not said
            return turn if turn.startswith("[") else _said(turn, language)

        turns = [
            " ".join(p for p in (greeting, opening) if p),
            one("script.listen"),
            one(
                "script.paraphrase",
                summary=_lower_first(summary.rstrip("."), starts) if summary else "",
            ),
            *(flat(part) for part in offer if part),
            flat(nexts),
            question,
            one("script.listen_again"),
            closing,
        ]
        kept = [said(t) for t in turns if t]
        return "\n\n".join(f"{number}. {turn}" for number, turn in enumerate(kept, start=1))

    def render(
        self, incident: Incident, ctx: ReplyContext, *, language: str | None = None
    ) -> Reply:
        """Compose the reply for an incident in the customer's language and channel."""
        available = [lang for lang in ctx.languages if lang in self._catalogs]
        if not available:
            raise RenderError(f"no reply templates for any of {', '.join(ctx.languages)}")
        default = ctx.default_language if ctx.default_language in available else available[0]
        tag = language or incident.customer.language
        chosen, fell_back = negotiate(tag, available, default)
        channel = incident.channel or DEFAULT_CHANNEL
        # the environment's globals merged into the context once, not in every fragment
        # and its fragments render one after the other in one Jinja context
        # and what most fragments do not read is built for the first that does (_Later)
        variables, later = self._variables(incident, ctx, chosen, channel)
        base = scope_of(self._env, variables, reply=True)
        base.later = later
        subject: str | None = None
        try:
            text = self._compose(incident, ctx, chosen, channel, base)
            if channel in ("email", "web_form"):
                name = f"subject.{incident.type}"
                if not self.has(chosen, name):
                    name = "subject"
                subject = self.fragment(chosen, name, channel, base)
        finally:
            base.release()  # the context refers back to a scope: no cycle left behind
        if subject is not None:
            subject = " ".join(subject.split())
        html: str | None = None
        segments: int | None = None
        if channel == "email":
            html = _html_document(text, subject, chosen)
        if channel == "sms":
            # one line, every run of white space one ordinary space: split() takes every
            # Unicode space (what plain_spaces replaces) as white space already
            text = " ".join(text.split())
            segments = sms_segments(text)[0]
        # the renderer's own strings, flag and count: built as validation would build them
        return trusted(
            Reply,
            {
                "language": chosen,
                "fell_back": fell_back,
                "channel": channel,
                "subject": subject,
                "body": text,
                "html": html,
                "segments": segments,
            },
        )

    def context(
        self, incident: Incident, ctx: ReplyContext, language: str, channel: str
    ) -> dict[str, Any]:
        """What a reply's fragments read (besides ``action`` in an action's)."""
        variables, later = self._variables(incident, ctx, language, channel)
        _fill(variables, later, _LATER)
        return variables

    def _variables(
        self, incident: Incident, ctx: ReplyContext, language: str, channel: str
    ) -> tuple[dict[str, Any], _Later]:
        """The context but for :data:`_LATER`'s values, and what builds them."""
        customer = incident.customer
        order = incident.order
        # the customer's zone, else the team's: "by 09:30 on Monday" is Warsaw's 09:30 after
        # the clocks go back, whatever UTC offset the incident was written with
        tz = customer.timezone or ctx.zone
        respond_by = ctx.respond_by
        config = self.config_for(ctx.playbook)
        variables = {
            LANGUAGE_VAR: language,
            TIMEZONE_VAR: tz,
            "channel": channel,
            "tone": ctx.tone,
            "severity": ctx.severity,
            "company": config.company,
            "agent": config.agent.get(language),
            "contact": dict(config.contact),
            "order": {
                # a script read aloud does not recite reference numbers
                "id": None if channel in SPOKEN_CHANNELS else order.id,
                "value": order.value,
                "currency": order.currency,
                "carrier": order.carrier,
                "value_text": _money(order.value, order.currency, language, channel)
                if order.value is not None and order.currency
                else None,
            },
            "incident": {
                "id": incident.id,
                "type": incident.type,
                "occurred_at": incident.occurred_at,
                "description": incident.description,
            },
            "facts": dict(incident.facts),
            "respond_by": respond_by,
            # the moment the reply speaks from: deadlines read "today", "tomorrow" from it
            "now": ctx.now or incident.occurred_at or datetime.now(timezone.utc),
            # what happened in a few words: set for a spoken script's paraphrase step
            "summary": None,
            # how fast the leading playbook promises to answer on this channel, in minutes
            "sla": int(ctx.promise[channel].total_seconds() // 60)
            if channel in ctx.promise
            else None,
            # (customer, addr, event, answers, answer, follow_ups: see _fill)
            "kinds": [a.kind for a in ctx.actions],
            "approval_pending": any(a.requires_approval for a in ctx.actions),
        }
        return variables, (incident, ctx, channel, language)

    def action_context(
        self,
        action: SuggestedAction,
        language: str,
        channel: str,
        base: Mapping[str, Any],
    ) -> dict[str, Any]:
        """``base`` with the action's ``action`` (a ``plan_b``'s options rendered in it)."""
        info = _action_info(action, language, channel)
        local = _with(base, {"action": info})
        self._options(action, info, language, channel, local)
        return local

    def _options(
        self,
        action: SuggestedAction,
        info: dict[str, Any],
        language: str,
        channel: str,
        local: Mapping[str, Any],
    ) -> None:
        """A ``plan_b``'s options, each rendered in the action's scope, into its ``action``."""
        if action.kind == "plan_b":
            # each option in the action's scope (renders never change their scope); the
            # action's fragment then sees the options said
            options = []
            for option in info["params"].get("options", []):
                rendered = self.fragment(language, f"option.{option}", channel, local)
                if rendered is None:
                    raise RenderError(f"missing reply fragment 'option.{option}' ({language})")
                options.append(rendered)
            info["options"] = options

    def _action_text(
        self, language: str, name: str, channel: str, action: SuggestedAction, base: Scope
    ) -> str | None:
        """``fragment(..., action_context(action, ..., base))``, without copying the scope.

        The reply's scope is the action's for the time its fragments render: ``action`` is
        put into it and taken out again (the old value, if any, put back), so every other
        name is the same object as in an extended copy, and nothing renders in between.
        """
        info = _action_info(action, language, channel)
        previous = base.get("action", _ABSENT)
        base["action"] = info
        try:
            self._options(action, info, language, channel, base)
            return self.fragment(language, name, channel, base)
        finally:
            if previous is _ABSENT:
                del base["action"]
            else:
                base["action"] = previous

    def _compose(
        self,
        incident: Incident,
        ctx: ReplyContext,
        language: str,
        channel: str,
        base: Scope,
    ) -> str:
        public = channel == "social_public"
        apologies: list[str] = []
        # the recovery in the playbook's declared order; a paragraph (a spoken turn) per run
        # of one step: care, the fix and when, money, paperwork -- as the playbook orders them
        runs: list[tuple[str, list[str]]] = []
        seen: set[str] = set()
        declared = list(ctx.said) if len(ctx.said) == len(ctx.actions) else []
        # by the declared position (a stable sort), else as decided
        ordered: Iterable[int] = range(len(ctx.actions))
        if declared:
            ordered = sorted(ordered, key=[place[0] for place in declared].__getitem__)
        for index in ordered:
            action = ctx.actions[index]
            section = SECTIONS.get(action.kind, "next")
            if public and (action.kind in COMPENSATION_KINDS or section == "remedy"):
                continue
            name = template_name(action)
            if name in seen:
                continue  # the same fragment twice would repeat itself
            seen.add(name)
            text = self._plain_action(language, name, channel, action)
            if text is None:
                text = self._action_text(language, name, channel, action, base)
            if text is None:
                raise RenderError(
                    f"missing reply fragment '{name}' ({language}) for rule {action.rule}"
                )
            if not text:
                continue
            if section == "apology":
                apologies.append(text)
                continue
            step = declared[index][1] if declared else _step(action)
            if runs and runs[-1][0] == step:
                runs[-1][1].append(text)
            else:
                runs.append((step, [text]))

        def one(name: str) -> str:
            return self.fragment(language, name, channel, base) or ""

        # Short and public layouts tell what happened only where a variant is written for
        # them: an order number or a carrier has no place in a public thread.
        situation = ""
        for name in (f"situation.{incident.type}", "situation"):
            if channel not in ("sms", "social_public") or self.has_variant(language, name, channel):
                situation = one(name)
                if situation:
                    break
        greeting = _salutation(
            incident.customer.name,
            language,
            salutation=incident.customer.salutation,
            gender=incident.customer.gender,
            register=ctx.tone,
            channel=channel,
        )
        if channel in SPOKEN_CHANNELS:
            greeting = spoken_greeting(greeting, language, _local_hour(incident))
        closing = one("closing")
        sign = ""
        if channel in ("email", "web_form", "social_private"):
            config = self.config_for(ctx.playbook)
            names = [n for n in (config.agent.get(language), config.company) if n]
            sign = "\n".join([sign_off(language, ctx.tone), *names])
        opening = " ".join(p for p in (*apologies, situation) if p)
        paragraphs_of_runs = _paragraphs(runs, spoken=channel in SPOKEN_CHANNELS)
        if channel == "sms":
            # the core fact first (what happened, to which order), addressed by name when
            # the name is known; then the apology and the recovery in its declared order
            first = _sms_address(greeting, language)
            lead = [situation, *apologies] if situation else apologies
            parts = [*lead, *(t for _, texts in runs for t in texts)]
            said: list[str] = []
            for part in parts:
                if part and part not in said:  # two actions may promise the same text
                    said.append(part)
            # the closing ("Questions? Just reply: we answer within 1 hour.") where it costs
            # no extra segment, counted with the name that will open the message; else
            # ``next_step``, where nothing else in the SMS says when (it is empty otherwise),
            # within the three segments a reply may have
            if closing and sms_segments(" ".join([first, *said, closing]))[0] <= 2:
                said.append(closing)
            elif (last := one("next_step")) and sms_segments(" ".join([first, *said, last]))[
                0
            ] <= 3:
                said.append(last)
            text = " ".join(said)
            named = f"{first} {_lower_first(text, _starts(base))}" if first and said else text
            # a name in another script would turn a Latin SMS into UCS-2 (half the room)
            if sms_segments(named)[1] != sms_segments(text)[1]:
                return text
            return named
        if public:
            # a greeting of its own, not a run-on: "Hi Anna! We're really sorry to hear this."
            rest = " ".join(p for p in (opening, *paragraphs_of_runs, closing) if p)
            if greeting.endswith(",") and rest:
                return f"{greeting[:-1]}! {rest[:1].upper()}{rest[1:]}"
            return " ".join(p for p in (greeting, rest) if p)
        if channel in SPOKEN_CHANNELS:
            return self._script(
                language,
                channel,
                base,
                greeting=greeting,
                opening=opening,
                summary=self._summary(incident, language, base),
                offer=paragraphs_of_runs,
                nexts="",
                question=one("open_question"),
                closing=closing,
            )
        body_runs = paragraphs_of_runs or [""]
        paragraphs = [
            greeting,
            opening,
            *body_runs[:-1],
            " ".join(p for p in (body_runs[-1], closing) if p),
        ]
        body = "\n\n".join(p for p in paragraphs if p)
        return f"{body}\n\n{sign}" if sign else body
