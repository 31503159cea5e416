"""What a reply's fragments read: the parts of its context built only when one reads them.

Split from :mod:`cxplay._replies.renderer` (which imports these names back): the values of
:data:`_LATER`, an action's ``action``, and the event's and follow-ups' fields as dicts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from cxplay._replies.address import name_in_script, parse_name
from cxplay._replies.config import ReplyContext
from cxplay._replies.sandbox import Scope
from cxplay._replies.shaping import _address, _money
from cxplay.models import EventRef, Incident
from cxplay.results import FollowUpPlan, SuggestedAction

__all__ = ["_LATER", "_Later", "_action_info", "_fields", "_fill", "_whole"]

#: The names of a reply's context built only when a fragment (or the composition) reads
#: them: what most fragments do not read and costs most to build (the eight ``answers``
#: alone are 19,000 instructions, and a quarter of the replies read them). A fragment can
#: read one only if its text spells the name (Jinja resolves no name its source does not
#: spell, and none of the filters reads these), so it is put into the reply's scope
#: before such a fragment renders, and before the composition reads the scope itself.
_LATER: Final = frozenset({"answers", "answer", "follow_ups", "event", "customer", "addr"})


#: What builds a reply's :data:`_LATER` values: the incident, its reply context, the
#: channel and the language.
_Later = tuple[Incident, ReplyContext, str, str]


def _promise(ctx: ReplyContext, name: str, channel: str) -> dict[str, Any]:
    """How soon the team answers a message on channel ``name``: "within 2 working hours".

    On the reply's own channel it falls due at ``respond_by``, so a promise made after
    closing time names the day instead ("by 09:55 on Tuesday 7 April").
    """
    return {
        "after": ctx.promise[name],
        "due": ctx.respond_by if name == channel else None,
        "business": name in ctx.business,
    }


def _fill(scope: dict[str, Any], later: _Later, wanted: Iterable[str]) -> None:
    """Put the values of ``wanted`` (names of :data:`_LATER`) that ``scope`` lacks into it.

    Each is built as the context always built it, from the same immutable inputs, and
    none can raise (the name functions of ``customer`` and ``addr`` are text functions of
    a validated text; ``tests/test_render_once.py`` runs them on generated text too).
    ``answer`` is ``answers.get(channel)``: one dict, whichever comes first.
    """
    incident, ctx, channel, language = later
    for name in wanted:
        if name in scope:
            continue
        if name == "customer":
            scope[name] = _customer(incident, language)
        elif name == "addr":
            scope[name] = _address(incident, language)
        elif name == "event":
            scope[name] = _fields(incident.event)
        elif name == "follow_ups":
            scope[name] = [_fields(f) for f in ctx.follow_ups]
        elif name == "answers":
            # the same as a promise for the `within` filter, per channel
            answers = {other: _promise(ctx, other, channel) for other in ctx.promise}
            if scope.get("answer") is not None:  # this channel's, made first
                answers[channel] = scope["answer"]
            scope[name] = answers
        elif "answers" in scope:  # answer
            scope[name] = scope["answers"].get(channel)
        else:
            scope[name] = _promise(ctx, channel, channel) if channel in ctx.promise else None


def _customer(incident: Incident, language: str) -> dict[str, Any]:
    """The customer as a fragment reads them."""
    customer = incident.customer
    # the name as written in this language (Олена → Olena in English), split as far
    # as it can be known: a lone token is a surname, never a first name
    name = name_in_script(parse_name(customer.name).text, language)
    return {
        "name": name,
        "first_name": parse_name(name).given or "",
        "tier": customer.tier,
        "orders_count": customer.orders_count,
    }


def _whole(scope: Mapping[str, Any], wanted: Iterable[str] = _LATER) -> None:
    """Put into a reply's scope what it is yet to hold of ``wanted`` (see :data:`_LATER`)."""
    if type(scope) is Scope and (later := scope.later) is not None:
        _fill(scope, later, wanted)


def _action_info(action: SuggestedAction, language: str, channel: str) -> dict[str, Any]:
    """What an action's fragment reads as ``action``: its kind, params, cost and its text."""
    params: dict[str, Any] = dict(action.params)
    cost = action.cost
    return {
        "kind": action.kind,
        "requires_approval": action.requires_approval,
        "params": params,
        **params,
        "cost": cost.amount if cost else None,
        "cost_text": _money(cost.amount, cost.currency, language, channel)
        if cost is not None and cost.currency
        else None,
    }


#: The fields of the two models a reply's context holds as dicts, in declaration order.
_DUMPED: Mapping[type, tuple[str, ...]] = {
    EventRef: tuple(EventRef.model_fields),
    FollowUpPlan: tuple(FollowUpPlan.model_fields),
}


def _fields(model: EventRef | FollowUpPlan) -> dict[str, Any]:
    """``model.model_dump()``, at a third of its cost: the fields' values in their order.

    The event and a follow-up have only plain values (text, instants, spans), no nested
    model or mapping, so that is what the dump is (``tests/test_render_fast.py`` holds
    it equal for every field set, and checks the fields stay plain). Any other model (a
    caller's subclass) is dumped by pydantic.
    """
    names = _DUMPED.get(type(model))
    if names is None:
        return model.model_dump()
    values = model.__dict__
    if tuple(values) == names:  # the fields alone, in their order (as validation sets them)
        return dict(values)
    return {name: values[name] for name in names}
