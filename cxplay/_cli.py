"""The ``cxplay`` command: thin adapters from the shell to the library.

Each command parses its options, makes one library call and hands the result to a
presenter in :mod:`cxplay._present`; only then is anything written. Exit statuses are
decided in one function, :func:`_exit_code`:

=====  ================================================================================
0      ok
1      a cxplay error -- ``Error: ...`` on stderr, one line per problem, no traceback
       (``--debug`` shows one) -- or problems found by ``validate`` / failures in ``test``
2      usage error (click's)
3      no rule matched the incident (``suggest``, ``explain``); the output still shows
       the (empty) suggestion, so scripts can branch on it
=====  ================================================================================

Shell completion is click's own: ``eval "$(_CXPLAY_COMPLETE=bash_source cxplay)"`` (or
``zsh_source``, ``fish_source``); ``cxplay playbooks show`` completes playbook ids.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from click.shell_completion import CompletionItem

from cxplay import _cli_log
from cxplay._cli_options import playbook_paths as _paths
from cxplay._cli_options import playbooks_option as _playbooks_option
from cxplay._common import codecache, plugins
from cxplay._common.channels import CHANNELS
from cxplay._common.lazy import collector_paused, lazy_pattern
from cxplay._common.text import echo
from cxplay._version import __version__
from cxplay.errors import CxplayError, IncidentError, PlanError

if TYPE_CHECKING:
    from cxplay._playbooks.labels import LabelBook
    from cxplay._playbooks.loader import PlaybookSet
    from cxplay._present import Format
    from cxplay.models import Playbook
    from cxplay.results import Suggestion

__all__ = ["cli", "main"]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2  # raised by click itself
EXIT_NO_MATCH = 3

F = TypeVar("F", bound=Callable[..., Any])


class _NoMatch(Exception):
    """The suggestion is shown, and no rule matched: exit status 3."""


class _ChecksFailed(Exception):
    """``validate`` or ``test`` showed problems: exit status 1."""


def _exit_code(error: Exception, *, debug: bool) -> int:
    """Map an exception escaping a command to an exit status, printing what the user needs.

    This is the only place exceptions become exit statuses (click's own usage errors
    excepted: they exit with 2 before a command runs).
    """
    if isinstance(error, _NoMatch):
        return EXIT_NO_MATCH
    if isinstance(error, _ChecksFailed):
        return EXIT_ERROR
    if isinstance(error, BrokenPipeError):
        # the reader went away (``cxplay schema | head``): nothing left to tell anyone
        return EXIT_ERROR
    if debug:
        import traceback  # only for --debug

        click.echo("".join(traceback.format_exception(error)).rstrip("\n"), err=True)
    if isinstance(error, CxplayError):
        from cxplay._present import error_lines

        lines = error_lines(error)
    elif isinstance(error, OSError):
        # the file it is about, always: "No such file or directory" alone names nothing
        named = (error.filename, error.filename2)
        where = "".join(f"{os.fsdecode(p)}: " for p in named if isinstance(p, (str, bytes)))
        lines = [f"Error: {where}{error.strerror or error}"]
    else:
        lines = [
            f"Error: internal error: {type(error).__name__}: {error}"
            + ("" if debug else " (run 'cxplay --debug ...' to see the traceback)")
        ]
    for line in lines:
        click.echo(line, err=True)
    return EXIT_ERROR


#: Commands whose module is imported when the command is asked for (to run, for its help,
#: for ``cxplay --help`` or a completion), not by every command: name -> (module, object).
_LATER: Mapping[str, tuple[str, str]] = {
    "backtest": ("cxplay._cli_backtest", "backtest_command"),
    "disruptions": ("cxplay._cli_watch", "disruptions_group"),
    "serve": ("cxplay._cli_serve", "serve"),
    "watch": ("cxplay._cli_watch", "watch_command"),
}


class _Cli(click.Group):
    """The root group: every exception a command raises goes through :func:`_exit_code`.

    The commands of :data:`_LATER` are listed as the others are and added on first ask.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *_LATER})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in _LATER:
            module, name = _LATER[cmd_name]
            self.add_command(getattr(importlib.import_module(module), name), cmd_name)
        return super().get_command(ctx, cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] not in self.commands and args[0] not in _LATER:
            for name in _LATER:  # a name not known: "Did you mean" looks among them all
                self.get_command(ctx, name)
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as error:  # all of them: a user never sees a traceback
            ctx.exit(_exit_code(error, debug=bool(ctx.params.get("debug"))))


# --------------------------------------------------------------------------- incidents

# for --fact only
_NUMBER = lazy_pattern(globals(), "_NUMBER", r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?\Z")
_FACT_KEY = lazy_pattern(globals(), "_FACT_KEY", r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _scalar(text: str) -> Any:
    if text in ("true", "false"):
        return text == "true"
    if _NUMBER.match(text):
        return json.loads(text)
    return text


def _fact_value(key: str, text: str) -> Any:
    """Type a ``--fact`` value: see the ``suggest`` help for the rules."""
    if text.startswith(("[", '"')):
        try:
            return json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            message = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
            raise click.BadParameter(f"{key}: invalid JSON: {message}") from None
    if "," in text:
        return [_scalar(item.strip()) for item in text.split(",")]
    return _scalar(text)


def _parse_facts(
    ctx: click.Context, param: click.Parameter, values: Sequence[str]
) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    for item in values:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep:
            raise click.BadParameter(f"{echo(item)}: expected key=value, e.g. delay_days=3")
        if not _FACT_KEY.match(key):
            raise click.BadParameter(
                f"{echo(key)}: a fact name has ASCII letters, digits and '_' and does not start "
                "with a digit"
            )
        if key in facts:
            raise click.BadParameter(f"{echo(key)} is given twice; give each fact once")
        facts[key] = _fact_value(key, text)
    return facts


def _section(incident: dict[str, Any], key: str) -> dict[str, Any]:
    section = incident.get(key)
    if section is None:
        section = incident[key] = {}
    if not isinstance(section, dict):
        raise IncidentError(f"invalid incident: {key}: must be an object")
    return section


def _incident(source: str | None, flags: Mapping[str, Any]) -> dict[str, Any]:
    """The incident from ``source`` (if any), with the flags laid over it."""
    from cxplay._incidents import read_incident

    if source is None and flags["type"] is None:
        raise click.UsageError("no incident: give a FILE, '-' to read stdin, or --type")
    incident = read_incident(source) if source is not None else {}
    if flags["type"] is not None:
        incident["type"] = flags["type"]
    if flags["channel"] is not None:
        incident["channel"] = flags["channel"]
    for flag, section, key in (
        ("lang", "customer", "language"),
        ("name", "customer", "name"),
        ("tier", "customer", "tier"),
        ("order_value", "order", "value"),
        ("currency", "order", "currency"),
    ):
        if flags[flag] is not None:
            _section(incident, section)[key] = flags[flag]
    if flags["facts"]:
        _section(incident, "facts").update(flags["facts"])
    return incident


# --------------------------------------------------------------------------- options


def _format_option(function: F) -> F:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["text", "json", "markdown"]),
        default="text",
        show_default=True,
        help="text for a person, json (the Suggestion contract), markdown for a ticket.",
    )(function)


def _incident_options(function: F) -> F:
    options = [
        click.argument("incident_file", metavar="[FILE|-]", required=False),
        click.option(
            "--type",
            "type",
            metavar="TYPE",
            shell_complete=_complete_types,
            help="Incident type, e.g. parcel_damaged.",
        ),
        click.option(
            "--allow-unknown-type",
            is_flag=True,
            help="Accept a type the playbooks do not know even when it is close to one they "
            "do (by default 'parcel_damage' is an error: did you mean parcel_damaged?).",
        ),
        click.option("--channel", type=click.Choice(CHANNELS), help="Where the customer wrote."),
        click.option(
            "--lang",
            metavar="TAG",
            shell_complete=_complete_languages,
            help="Customer's language (pl, uk, en, en-GB).",
        ),
        click.option("--name", metavar="NAME", help="Customer's name."),
        click.option(
            "--tier",
            metavar="TIER",
            shell_complete=_complete_tiers,
            help="Customer's tier, e.g. gold.",
        ),
        click.option("--order-value", type=float, metavar="AMOUNT", help="Order value."),
        click.option("--currency", metavar="CODE", help="Order currency, e.g. PLN."),
        click.option(
            "--fact",
            "facts",
            multiple=True,
            metavar="KEY=VALUE",
            callback=_parse_facts,
            help="A fact (repeatable), typed as described above.",
        ),
        _playbooks_option,
        _format_option,
    ]
    for option in reversed(options):
        function = option(function)
    return function


_INCIDENT_FLAGS = ("type", "channel", "lang", "name", "tier", "order_value", "currency", "facts")


def _suggest(
    incident_file: str | None,
    playbook_paths: Sequence[Path],
    fmt: Format,
    explain: bool,
    flags: Mapping[str, Any],
    log: str | None = None,
    log_optional: bool = False,
) -> None:
    # one incident, one answer: the engine's imports, its validators and the reply make
    # objects that stay until the process ends, so the collector has nothing to find; the
    # code their dataclasses and string annotations compile is kept (unless --no-cache);
    # pydantic looks for its plugins without importlib.metadata when there are none
    with collector_paused(), codecache.kept():
        plugins.import_loader()
        result, labels = _suggested(
            incident_file, playbook_paths, explain, flags, log, log_optional
        )
        from cxplay import _present as present
        from cxplay._playbooks.labels import agent_language

        color = present.color_enabled(sys.stdout)
        shown = present.suggestion(
            result, fmt, color=color, labels=labels, language=agent_language()
        )
        if _process["ends_after_command"]:
            # The log (if any) is closed: all that is left is to print and exit. Frozen
            # before the collector runs again: its first pass would otherwise walk every
            # object the imports made while it was paused, as would the exit's collection
            # (~5 % of the command's work), to free nothing. They are left to the end.
            gc.freeze()
            _process["nothing_open"] = log is None and not log_optional
    click.echo(shown, color=color)
    if not result.matched:
        raise _NoMatch


def _suggested(
    incident_file: str | None,
    playbook_paths: Sequence[Path],
    explain: bool,
    flags: Mapping[str, Any],
    log: str | None,
    log_optional: bool,
) -> tuple[Suggestion, LabelBook | None]:
    """The suggestion for the incident given, and the labels of the playbooks that made it."""
    incident = _incident(incident_file, flags)
    seen: list[PlaybookSet] = []
    try:
        result = _cli_log.suggest_logged(
            _paths(playbook_paths),
            incident,
            explain=explain,
            log=log,
            optional=log_optional,
            allow_unknown_type=flags["allow_unknown_type"],
            seen=seen,
        )
    except IncidentError as exc:
        # the file is to blame only when no flag changed what was read from it
        if incident_file is None or any(flags[name] for name in _INCIDENT_FLAGS):
            raise
        from cxplay._incidents import in_file

        raise in_file(exc, incident_file) from None
    if seen:
        from cxplay._engine.incident import unread_facts

        unread = unread_facts(incident, seen[0].facts)
        if unread is not None:  # nothing the user gave is dropped without a word
            click.echo(f"Warning: {unread} (ignored: no rule can read it)", err=True)
    return result, (seen[0].labels if seen else None)


def _suggest_offline(
    incident_file: str | None, plan_file: Path, fmt: Format, flags: Mapping[str, Any]
) -> None:
    """``suggest --plan``: answer from the preloaded plan; the playbooks are never read."""
    incident = _incident(incident_file, flags)
    kind = incident.get("type")
    if not isinstance(kind, str):
        raise IncidentError("invalid incident: type: is required")
    facts = dict(incident.get("facts") or {})
    event = incident.get("event") or {}
    if isinstance(event, dict) and isinstance(event.get("speaker"), str):
        facts.setdefault("speaker", event["speaker"])
    customer = incident.get("customer") or {}
    name = customer.get("name") if isinstance(customer, dict) else None
    # Imported here, like in the plan command: the event and plan models cost ~60 ms of
    # start-up that an ordinary `cxplay suggest` should not pay.
    from cxplay import _present as present
    from cxplay._events.offline import answer_offline
    from cxplay._events.store import load_plan

    preloaded = load_plan(plan_file)
    answer = answer_offline(preloaded, kind, facts, name=name if isinstance(name, str) else None)
    click.echo(present.offline_answer(preloaded, answer, fmt))


def _completion_playbooks(ctx: click.Context) -> PlaybookSet | None:
    """The playbooks the command line being completed names, or None when they do not load."""
    from cxplay._playbooks.loader import load_playbooks

    paths = list(ctx.params.get("playbook_paths") or ())
    if not paths and ctx.parent is not None:
        paths = list(ctx.parent.params.get("playbook_paths") or ())
    try:
        return load_playbooks(_paths(paths))
    except Exception:  # completion runs inside the user's shell: never break it
        return None


def _complete_playbook_ids(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    loaded = _completion_playbooks(ctx)
    return [
        CompletionItem(p.meta.id, help=p.meta.title)
        for p in (loaded.playbooks if loaded is not None else ())
        if p.meta.id.startswith(incomplete)
    ]


def _complete_types(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    loaded = _completion_playbooks(ctx)
    types = sorted(loaded.incident_types()) if loaded is not None else []
    return [CompletionItem(t) for t in types if t.startswith(incomplete)]


def _complete_tiers(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    loaded = _completion_playbooks(ctx)
    tiers = loaded.literals("customer.tier") if loaded is not None else []
    return [CompletionItem(t) for t in tiers if t.startswith(incomplete)]


def _complete_languages(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    from cxplay._replies.locale import SUPPORTED

    return [CompletionItem(tag) for tag in SUPPORTED if tag.startswith(incomplete)]


# --------------------------------------------------------------------------- commands


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="cxplay", message="%(prog)s %(version)s")
@click.option("--debug", is_flag=True, help="Show the traceback of an error.")
def cli(debug: bool) -> None:
    """Incident in, recovery actions and a ready-to-send reply out.

    cxplay evaluates an incident against playbooks (TOML rules) and suggests ranked
    recovery actions with their reasons, and a reply in the customer's language.
    Playbooks come from --playbooks, else $CXPLAY_PLAYBOOKS, else the shipped ones.

    \b
    Examples:
      cxplay suggest examples/incidents/parcel_damaged.json
      cxplay explain --type parcel_damaged --order-value 80 --channel email
      cxplay validate my-playbooks/ && cxplay test my-playbooks/

    \b
    Shell completion (click's), e.g. in ~/.bashrc, ~/.zshrc or fish's config:
      eval "$(_CXPLAY_COMPLETE=bash_source cxplay)"
      eval "$(_CXPLAY_COMPLETE=zsh_source cxplay)"
      _CXPLAY_COMPLETE=fish_source cxplay | source

    \b
    Exit status: 0 ok; 1 error (one 'Error: ...' line per problem on stderr);
    2 usage error; 3 no rule matched the incident.
    """  # noqa: D301 - click's \b must stay a backspace


@cli.command()
@_incident_options
@click.option("--explain", is_flag=True, help="Also show every rule, matched (✓) or not (✗).")
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="PLAN.json",
    help="Answer offline from a preloaded plan (cxplay plan --out); no playbooks are read.",
)
@_cli_log.suggest_log_options
def suggest(
    incident_file: str | None,
    playbook_paths: tuple[Path, ...],
    fmt: Format,
    explain: bool,
    plan_file: Path | None,
    log: str | None,
    log_optional: bool,
    **flags: Any,
) -> None:
    """Suggest recovery actions and a reply for an incident.

    The incident comes from FILE (JSON, or TOML if it ends in .toml), from stdin
    with '-' (JSON if it starts with '{', else TOML), or from the flags alone
    (--type is then required). Flags override or extend the fields of a file.

    \b
    Examples:
      cxplay suggest examples/incidents/parcel_damaged.json
      cxplay suggest --type parcel_damaged --channel email --lang pl \\
          --order-value 249.99 --currency PLN --format markdown
      echo '{"type": "parcel_late"}' | cxplay suggest - --fact delay_days=3
      cxplay suggest incident.toml --fact tags=fragile,gift --format json
      cxplay suggest --plan plan.json --type speaker_late \\
          --fact speaker="James Whitfield" --fact delay_minutes=40

    \b
    Fact values (--fact key=value) are typed:
      true, false          a boolean
      3, -2.5, 1e3         a number
      a,b,c                a list (items typed the same way: 1,2 is [1, 2])
      ["a, b", 2]          JSON: a list as written
      "42" or "a, b"       JSON: text as written (quote to keep a comma or digits)
      anything else        text

    With --plan, the answer comes from the plan's nearest precomputed scenario
    (same type and person, nearest delay), offline: see 'cxplay plan --help'.

    With --log (or CXPLAY_LOG), the suggestion is recorded in the decision log and
    shows its decision id, for 'cxplay outcome' and 'cxplay feedback'; a customer
    with an id then gets their compensation history from the log.

    Exit status: 0 ok, 1 error, 2 usage error, 3 no rule matched.
    """  # noqa: D301 - click's \b must stay a backspace
    if plan_file is not None:
        if explain:
            raise click.UsageError("--explain needs the playbooks; it cannot be used with --plan")
        _suggest_offline(incident_file, plan_file, fmt, flags)
        return
    _suggest(incident_file, playbook_paths, fmt, explain, flags, log, log_optional)


@cli.command()
@_incident_options
def explain(
    incident_file: str | None,
    playbook_paths: tuple[Path, ...],
    fmt: Format,
    **flags: Any,
) -> None:
    """Suggest, and show why each rule matched (✓) or not (✗).

    For a rule that did not match: the condition that failed and the incident's
    value for it; for a rule that matched: kept, or why it was dropped.

    Takes the same incident input and options as 'cxplay suggest'; the same as
    'cxplay suggest --explain'.

    \b
    Examples:
      cxplay explain examples/incidents/parcel_damaged.json
      cxplay explain --type parcel_damaged --order-value 80 --channel email
      cxplay explain incident.json --format json | jq '.trace[] | select(.matched)'

    Exit status: 0 ok, 1 error, 2 usage error, 3 no rule matched.
    """  # noqa: D301 - click's \b must stay a backspace
    _suggest(incident_file, playbook_paths, fmt, True, flags)


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path), metavar="[DIR|FILE]...")
def validate(paths: tuple[Path, ...]) -> None:
    """Check playbooks, including rules that can never win.

    Reports TOML syntax, unknown keys, wrong types, refused conditions, unknown
    fields and type mismatches, rules that can never match or never win (a rule
    ranked above in the same group, or a stop rule, matches whenever they do),
    scenarios citing unknown rules or action kinds, and the renderer's template
    checks: every fragment compiles and test-renders, names used in any branch of
    a fragment exist in the reply context, and every language of the playbooks has
    the sections the others have. A reply catalog (replies/NAME.LANG.toml) given
    as a FILE is checked on its own. Prints one line per problem (file:line:
    rule-id: message) and exits 1, or prints a one-line summary and exits 0.

    Without a path: $CXPLAY_PLAYBOOKS, else the shipped playbooks.

    \b
    Examples:
      cxplay validate
      cxplay validate my-playbooks/
      cxplay validate my-playbooks/parcel.toml my-playbooks/events.toml
      cxplay validate my-playbooks/replies/parcel.pl.toml
    """  # noqa: D301 - click's \b must stay a backspace
    from cxplay import _present as present
    from cxplay._playbooks.lint import validate_playbooks

    report = validate_playbooks(_paths(paths))
    click.echo(present.validation(report))
    if not report.ok:
        raise _ChecksFailed


@cli.command("test")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path), metavar="[DIR|FILE]...")
def test_command(paths: tuple[Path, ...]) -> None:
    """Run the playbooks' [[test]] scenarios and report rule coverage.

    A scenario passes when its incident gives every action kind of 'expect'
    (in that relative order; others may come between; 'expect = []' means no
    action at all), applies every rule of 'expect_rules', reaches
    'expect_severity', and renders a reply containing each 'reply_contains'
    fragment in each listed language. Prints a line per failure, 'N passed,
    M failed', then the rules no scenario reaches. Exits 1 on any failure.

    Without a path: $CXPLAY_PLAYBOOKS, else the shipped playbooks.

    \b
    Examples:
      cxplay test
      cxplay test my-playbooks/

    \b
    A scenario, in a playbook:
      [[test]]
      name = "refund-pl"
      incident = { type = "parcel_damaged", order = { value = 250, currency = "PLN" } }
      expect = ["apology", "refund"]
      expect_severity = "medium"
      reply_contains = { pl = ["Przepraszamy"] }
    """  # noqa: D301 - click's \b must stay a backspace
    from cxplay import _present as present
    from cxplay._playbooks.scenarios import run_scenarios

    report = run_scenarios(_paths(paths))
    color = present.color_enabled(sys.stdout)
    click.echo(present.scenario_report(report, color=color), color=color)
    if report.failed:
        raise _ChecksFailed


@cli.group(invoke_without_command=True)
@_playbooks_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Format of the list.",
)
@click.pass_context
def playbooks(ctx: click.Context, playbook_paths: tuple[Path, ...], fmt: str) -> None:
    """List the playbooks: id, version, rule count, languages, title.

    \b
    Examples:
      cxplay playbooks
      cxplay playbooks --playbooks my-playbooks/ --format json
      cxplay playbooks show parcel
    """  # noqa: D301 - click's \b must stay a backspace
    from cxplay import _present as present
    from cxplay._playbooks.loader import load_playbooks

    if ctx.invoked_subcommand is None:
        loaded = load_playbooks(_paths(playbook_paths))
        click.echo(present.playbook_list(loaded, "json" if fmt == "json" else "text"))


def _find(playbook_id: str, candidates: Sequence[Playbook]) -> Playbook:
    for playbook in candidates:
        if playbook.meta.id == playbook_id:
            return playbook
    known = ", ".join(p.meta.id for p in candidates)
    raise CxplayError(f"no playbook '{playbook_id}' (known: {known})")


@playbooks.command("show")
@click.argument("playbook_id", metavar="ID", shell_complete=_complete_playbook_ids)
@_playbooks_option
@click.pass_context
def show(ctx: click.Context, playbook_id: str, playbook_paths: tuple[Path, ...]) -> None:
    """Print one playbook and its rules.

    Its settings (languages, facts, policy, response times), then each rule in file
    order with its priority, group, condition, actions and reason.

    \b
    Examples:
      cxplay playbooks show parcel
      cxplay playbooks --playbooks my-playbooks/ show events
    """  # noqa: D301 - click's \b must stay a backspace
    from cxplay import _present as present
    from cxplay._playbooks.loader import load_playbooks

    given = playbook_paths
    if not given and ctx.parent is not None:
        given = ctx.parent.params["playbook_paths"]
    loaded = load_playbooks(_paths(given))
    click.echo(present.playbook_detail(_find(playbook_id, loaded.playbooks)))


@cli.command("map")
@_playbooks_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown"]),
    default="text",
    show_default=True,
    help="A compact matrix, or a Markdown table naming the rules.",
)
@click.option("--csat", is_flag=True, help="Colour each moment by the mean CSAT in the log.")
@_cli_log.log_option
def map_command(playbook_paths: tuple[Path, ...], fmt: str, csat: bool, log: str | None) -> None:
    """Show which moments of the customer journey the playbooks cover.

    Rows are journey stages, columns CX dimensions (sensory, relational, cognitive,
    behavioural, functional); a cell counts the rules with an action tagged with
    both. An empty cell is a moment no playbook prepares for.

    \b
    Examples:
      cxplay map
      cxplay map --format markdown > journey.md
      cxplay map --csat --log cx.db

    With --csat, a cell shows the mean CSAT (1-5) of the logged decisions whose
    rules cover it: green from 4, yellow from 3, red below.
    """  # noqa: D301 - click's \b must stay a backspace
    from cxplay import _present as present
    from cxplay._playbooks.loader import load_playbooks

    loaded = load_playbooks(_paths(playbook_paths))
    if csat:
        color = present.color_enabled(sys.stdout)
        table = _cli_log.csat_journey(
            loaded, log, "markdown" if fmt == "markdown" else "text", color=color
        )
        click.echo(table, color=color)
        return
    from cxplay._playbooks.journey import journey_map

    click.echo(present.journey(journey_map(loaded), "markdown" if fmt == "markdown" else "text"))


@cli.command("plan")
@click.argument("event_file", type=click.Path(path_type=Path, dir_okay=False), metavar="EVENT.toml")
@_playbooks_option
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="PLAN.json",
    help="Write the preloaded plan, for 'cxplay suggest --plan'.",
)
@click.option(
    "--markdown",
    "markdown_file",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="FILE",
    help="Write the runbook as Markdown.",
)
@click.option(
    "--html",
    "html_file",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="FILE",
    help="Write the runbook as one self-contained, printable HTML file.",
)
@click.option(
    "--check",
    "check_file",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="PLAN.json",
    help="Only say whether PLAN.json is stale (exit 1) or fresh for EVENT.toml.",
)
def plan_command(
    event_file: Path,
    playbook_paths: tuple[Path, ...],
    out: Path | None,
    markdown_file: Path | None,
    html_file: Path | None,
    check_file: Path | None,
) -> None:
    """Precompute an event's contingency plan: the runbook, and plan.json for offline use.

    For every foreseeable incident of the event -- each speaker late by 15, 30 or
    60 minutes or their flight or train cancelled, each guest early or late, each
    online session missed -- runs the playbooks, re-plans the agenda and renders
    the messages to the speaker or guest, the attendees, the chair and the venue,
    each in their language. With no --out, --markdown or --html the Markdown
    runbook is printed.

    \b
    Examples:
      cxplay plan examples/events/cxconf-2026.toml --out plan.json --html runbook.html
      cxplay plan event.toml --markdown runbook.md
      cxplay plan --check plan.json event.toml      # exit 1 if the plan is stale

    \b
    On the day, offline (the playbooks are not needed):
      cxplay suggest --plan plan.json --type speaker_late \\
          --fact speaker=whitfield --fact delay_minutes=40
    """  # noqa: D301 - click's \b must stay a backspace
    from cxplay import _present as present
    from cxplay._engine.engine import Engine
    from cxplay._events.load import load_event  # see _suggest_offline: kept off start-up
    from cxplay._events.plan import build_plan
    from cxplay._events.runbook import render_runbook_html, render_runbook_markdown
    from cxplay._events.store import check_plan, dump_plan, load_plan
    from cxplay._playbooks.loader import load_playbooks

    event = load_event(event_file)
    paths = _paths(playbook_paths)
    if check_file is not None:
        if out or markdown_file or html_file:
            raise click.UsageError("--check cannot be combined with --out, --markdown or --html")
        preloaded = load_plan(check_file)
        result = check_plan(preloaded, event, load_playbooks(paths))
        if not result.fresh:
            raise PlanError(
                f"{check_file} is {result.message}; rebuild it with "
                f"'cxplay plan {event_file} --out {check_file}'"
            )
        click.echo(present.plan_freshness(str(check_file), preloaded, result))
        return
    with Engine.from_path(paths) as engine:
        built = build_plan(event, engine, event_source=event_file)
    outputs = [
        (out, dump_plan),
        (markdown_file, render_runbook_markdown),
        (html_file, render_runbook_html),
    ]
    for target, render in outputs:
        if target is not None:
            target.write_text(render(built), encoding="utf-8")
            click.echo(f"Wrote {target}", err=True)
    if out is None and markdown_file is None and html_file is None:
        click.echo(render_runbook_markdown(built), nl=False)


@cli.command()
@click.option("--incident", is_flag=True, help="The schema of an incident instead.")
def schema(incident: bool) -> None:
    """Print the JSON Schema of the playbook format (or, with --incident, of an incident).

    So that editors check playbooks as you type: save the schema next to your
    playbooks and name it in a '#:schema' comment on the first line of each
    playbook (the path is relative to the playbook); taplo and the Even Better
    TOML extension for VS Code then validate and complete keys as you type.

    \b
    Examples:
      cxplay schema > my-playbooks/playbook.schema.json
      #:schema ./playbook.schema.json        <- first line of my-playbooks/parcel.toml
      cxplay schema --incident > incident.schema.json
    """  # noqa: D301 - click's \b must stay a backspace
    from cxplay import _present as present
    from cxplay._playbooks.lint import json_schema

    click.echo(present.schema(json_schema("incident" if incident else "playbook")))


_cli_log.register(cli)


#: Set by :func:`main`: the process ends when the command does (not so under CliRunner);
#: set by ``suggest``: it opened nothing that is still open when it returns (no log).
_process: dict[str, bool] = {"ends_after_command": False, "nothing_open": False}


def main() -> None:
    """Run the ``cxplay`` command (the console script)."""
    _process["ends_after_command"] = True
    try:
        cli.main(prog_name="cxplay")
    except SystemExit as done:
        if _process["nothing_open"]:
            _exit_now(done.code)
        raise


def _exit_now(code: object) -> None:
    """End the process as the interpreter would, less its teardown (returns if it cannot).

    After ``suggest`` nothing is left but the interpreter's own exit: its atexit hooks and
    the flush of stdout and stderr (done here, in its order), then the teardown of every
    module and the ~300,000 objects the imports made, freed one by one, which nobody sees
    (~2 % of the command's instructions). Not while another thread runs (the interpreter
    would wait for it) or for an exit code that is not a number.
    """
    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() != 1:
        return
    if code is not None and (not isinstance(code, int) or isinstance(code, bool)):
        return
    import atexit

    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # the interpreter's exit reports it and exits with 120
        return
    os._exit(code or 0)
