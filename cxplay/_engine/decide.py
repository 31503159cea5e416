"""Decide: from matching rules to ranked actions, under each playbook's guardrails.

Order: priority (higher first), then file order. Then, in this order:

1. **groups** -- of the rules sharing a ``group``, only the first keeps its actions;
2. **stop** -- a kept rule with ``stop = true`` drops every rule ranked below it;
3. **one compensation** -- with the playbook's ``policy.single_compensation`` (the
   default), only the first rule that offers compensation keeps its compensating actions;
4. **costs and approval** -- a refund's cost is its percent of the order value, capped by the
   action's ``max_amount`` and by the policy cap for the customer's tier (a capped action
   says so: ``params.capped_from``); an action needs approval when it says so, when it
   costs more than ``policy.approval_above``, when its cost is in another currency than
   ``policy.currency`` that the policy's dated ``rates`` table does not list (a person
   decides; ``params.approval_because`` says why), or when the customer has had
   more than ``policy.repeat_claimant_after`` compensations in 90 days;
5. **severity** -- rules may raise the incident's severity, never lower it;
6. **deadlines** -- ``respond_by`` is the first kept rule's playbook SLA for the channel,
   counted in the playbook's ``[calendar]`` open time when the SLA says ``business``;
   a person's promise (``follow_up``, ``callback``, ``escalate``) falls due in open time
   whenever the playbook has a calendar, a survey on the plain calendar.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from cxplay._common.fields import DEFAULT_CHANNEL
from cxplay._common.models import FrozenMap, freeze, trusted
from cxplay._playbooks.loader import CompiledRule
from cxplay.models import (
    SEVERITIES,
    Action,
    Callback,
    Escalate,
    FollowUp,
    Incident,
    Playbook,
    Policy,
    Refund,
    Survey,
    is_compensation,
    recovery_step,
)

if TYPE_CHECKING:
    from cxplay._common.hours import BusinessCalendar
from cxplay.results import Cost, FollowUpPlan, SuggestedAction

__all__ = [
    "ActionKey",
    "Decision",
    "Outline",
    "decide",
    "due_from",
    "follow_up_of",
    "outline",
    "outline_reads",
]

_META = {"kind", "dimension", "stage", "requires_approval", "note", "step"}


@dataclass(frozen=True)
class Decision:
    """What the guardrails made of the matches."""

    actions: list[SuggestedAction]
    kept: list[CompiledRule]
    outcomes: dict[str, str]  # rule id -> why it was dropped, or "kept"
    severity: str
    follow_ups: list[FollowUpPlan]
    respond_by: datetime | None
    # per action: (the rule's declared position, the recovery step): the reply's order
    said: list[tuple[int, str]] = field(default_factory=list)
    base: datetime | None = None  # the moment deadlines count from


def _raw_cost(
    action: object, incident: Incident, policy: Policy
) -> tuple[float, str | None] | None:
    """What an action costs before caps, and in which currency.

    A percent is of the order value, in the order's currency; a fixed ``amount`` (and a
    refund's ``max_amount``) is in the playbook's ``policy.currency`` (else the order's).
    """
    order = incident.order
    fixed_currency = policy.currency or order.currency
    if isinstance(action, Refund):
        if action.amount is not None:
            return action.amount, fixed_currency
        if order.value is None or action.percent is None:
            return None
        amount = order.value * action.percent / 100
        if action.max_amount is not None:
            converted = policy.convert(amount, order.currency)
            if converted is not None and converted > action.max_amount:
                amount = amount * action.max_amount / converted
        return amount, order.currency
    fixed = getattr(action, "amount", None)
    return None if fixed is None else (float(fixed), fixed_currency)


def _no_rate(currency: str | None, policy: Policy) -> str:
    """Why a cost in ``currency`` cannot be held against the policy, for the agent."""
    dated = f" of {policy.rates_as_of.isoformat()}" if policy.rates_as_of else ""
    return (
        f"the order is in {currency} and the playbook's rates table{dated} has no rate for it, "
        f"so its limits (in {policy.currency}) cannot be checked: a person decides"
    )


#: An action as a backtest compares it: (kind, parameters, cost in minor units, the cost's
#: currency, whether it needs approval).
ActionKey = tuple[str, Mapping[str, object], int | None, str | None, bool]


@dataclass(frozen=True)
class Outline:
    """A decision without its result models: what a backtest compares.

    The same actions as :func:`decide`'s (kind, parameters, cost, approval, in order), the
    kept rules and the severity; no follow-ups, no deadline, no pydantic model built.
    """

    actions: tuple[ActionKey, ...]
    kept: tuple[str, ...]  # the kept rules' ids, in rank order
    rules: tuple[str, ...]  # the rules that gave an action, in order, each once
    severity: str


# (the rule, the step, its parameters for this incident, (amount, currency) or None,
# whether it needs approval): one decided action, before any model is built
_Settled = tuple[CompiledRule, "_Step", Mapping[str, Any], "tuple[float, str | None] | None", bool]


def _keep(matched: Sequence[CompiledRule]) -> tuple[list[CompiledRule], dict[str, str]]:
    """Groups and stop rules: the rules that keep their actions, and every rule's outcome."""
    outcomes: dict[str, str] = {}
    kept: list[CompiledRule] = []
    group_winner: dict[str, str] = {}
    stopped_by: str | None = None
    for rule in matched:
        spec = rule.rule
        rule_id = spec.id
        if stopped_by is not None:
            outcomes[rule_id] = f"dropped: '{stopped_by}' matched first and stops the rest"
            continue
        group = spec.group
        if group is not None:
            if group in group_winner:
                outcomes[rule_id] = f"dropped: group '{group}' won by '{group_winner[group]}'"
                continue
            group_winner[group] = rule_id
        kept.append(rule)
        outcomes[rule_id] = "kept"
        if spec.stop:
            stopped_by = rule_id
    return kept, outcomes


def _chosen(
    kept: Sequence[CompiledRule], outcomes: dict[str, str]
) -> list[tuple[CompiledRule, _Step]]:
    """The kept rules' actions left after "one compensation per incident", in order.

    What no incident changes: the rules that may compensate and the actions each drops
    (noted in ``outcomes``). Shared by :func:`_settle` and :func:`decide`'s plans.
    """
    chosen: list[tuple[CompiledRule, _Step]] = []
    compensating_rule: str | None = None
    for rule in kept:
        plan = _plan(rule)
        # "one compensation per incident" is a policy of each playbook: only rules of
        # playbooks that keep it take part (and only they can block one another)
        offers = rule.playbook.policy.single_compensation and plan.offers
        skip_compensation = offers and compensating_rule not in (None, plan.rule)
        if offers and compensating_rule is None:
            compensating_rule = plan.rule
        for step in plan.steps:
            if step.compensation and skip_compensation:
                outcomes[plan.rule] = (
                    f"kept, but its {step.kind} is dropped: one compensation per incident "
                    f"('{compensating_rule}' offers it)"
                )
                continue
            chosen.append((rule, step))
    return chosen


def _repeat(policy: Policy, incident: Incident) -> bool:
    """Whether the customer has had more compensations than the policy lets pass unasked."""
    limit = policy.repeat_claimant_after
    return limit is not None and (incident.customer.compensations_90d or 0) > limit


def _settle_step(
    policy: Policy, step: _Step, incident: Incident
) -> tuple[Mapping[str, Any], tuple[float, str | None] | None, bool]:
    """One chosen action of a rule of ``policy``'s playbook: its parameters, cost, approval."""
    compensation = step.compensation
    params: Mapping[str, Any] = step.params  # frozen, shared: copied only to add
    raw = _raw_cost(step.action, incident, policy) if step.costly else None
    cost = None
    approval = step.forced is True
    because: str | None = None
    if raw is not None:
        amount, currency = raw
        in_policy = policy.convert(amount, currency)
        tier = incident.customer.tier
        cap = policy.caps.get(tier or "", policy.caps.get("default"))
        if compensation and in_policy is not None and cap is not None and in_policy > cap:
            params = {**params, "capped_from": round(amount, 2)}  # never cut silently
            amount = amount * cap / in_policy
            in_policy = cap
        cost = (float(round(amount, 2)), currency)
        if step.forced is None:
            threshold = policy.approval_above
            # no rate for its currency: the policy cannot be checked, a person decides
            if in_policy is None and compensation:
                approval, because = True, _no_rate(currency, policy)
            else:
                approval = (
                    threshold is not None and in_policy is not None and (in_policy > threshold)
                )
    if compensation and _repeat(policy, incident):
        approval = True
    if approval and because:
        params = {**params, "approval_because": because}
    return params, cost, bool(approval)


def _settle(
    kept: Sequence[CompiledRule], incident: Incident, outcomes: dict[str, str]
) -> list[_Settled]:
    """The kept rules' actions under the guardrails: one compensation, costs, caps, approval.

    Used by :func:`outline`; :func:`decide` takes the same two steps (:func:`_chosen` once
    per set of matches, :func:`_settle_step` for each action with a cost), so both decide
    alike by construction.
    """
    return [
        (rule, step, *_settle_step(rule.playbook.policy, step, incident))
        for rule, step in _chosen(kept, outcomes)
    ]


def _severity(kept: Sequence[CompiledRule], incident: Incident) -> str:
    """Rules may raise the incident's severity, never lower it."""
    level = SEVERITIES.index(incident.severity) if incident.severity else 0
    for rule in kept:
        if rule.rule.severity is not None:
            level = max(level, SEVERITIES.index(rule.rule.severity))
    return SEVERITIES[level]


def decide(
    matched: Sequence[CompiledRule], incident: Incident, *, now: datetime | None = None
) -> Decision:
    """Apply groups, stop, guardrails and severity to rules already ranked.

    What depends only on the matches (the kept rules, every outcome, the actions chosen,
    the follow-ups' order, the severity the rules raise to, each channel's deadline rule)
    is worked out once per list of matches (:func:`_matched`); a decision adds what the
    incident changes: costs, caps, approval, the severity, the dates. An action without a
    cost is one of two models built with its rule (approval or not), shared by every
    decision (it is immutable in depth). ``tests/test_decide_plans.py`` holds it equal to
    the decision made step by step.
    """
    base = incident.occurred_at or now or datetime.now(timezone.utc)
    severity = incident.severity
    level = _LEVELS[severity] if severity else 0
    if not matched:
        return _decision([], [], {}, SEVERITIES[level], [], None, [], base)
    plan = _matched(matched)
    claims = incident.customer.compensations_90d or 0
    actions: list[SuggestedAction] = []
    for step, policy, limit in plan.items:
        plain = step.plain
        if plain is not None:  # no cost: its parameters as declared, approval as below
            actions.append(plain[step.forced is True or (limit is not None and claims > limit)])
            continue
        params, cost, approval = _settle_step(policy, step, incident)
        values = step.values.copy()  # every field; the three below vary
        values["params"] = params if type(params) is FrozenMap else FrozenMap(params)
        values["requires_approval"] = approval
        values["cost"] = (
            None if cost is None else trusted(Cost, {"amount": cost[0], "currency": cost[1]})
        )
        actions.append(trusted(SuggestedAction, values))
    follow_ups = [
        trusted(FollowUpPlan, {**promise, "due": due_from(base, promise, hours)})
        for promise, hours in plan.follows
    ]
    channel = incident.channel or DEFAULT_CHANNEL
    deadline = plan.deadlines.get(channel, _UNKNOWN)
    if deadline is _UNKNOWN:
        deadline = plan.deadlines[channel] = _deadline(plan.playbooks, channel)
    respond_by = None
    if deadline is not None:
        hours, sla = deadline
        respond_by = base + sla if hours is None else hours.add(base, sla)
    return _decision(
        actions,
        [matched[0], *plan.kept],
        plan.outcomes.copy(),
        SEVERITIES[max(level, plan.floor)],
        follow_ups,
        respond_by,
        list(plan.said),
        base,
    )


#: A severity's level (its place in SEVERITIES).
_LEVELS = {name: level for level, name in enumerate(SEVERITIES)}
_UNKNOWN: Any = object()  # a channel whose deadline rule is not worked out yet


def _decision(
    actions: list[SuggestedAction],
    kept: list[CompiledRule],
    outcomes: dict[str, str],
    severity: str,
    follow_ups: list[FollowUpPlan],
    respond_by: datetime | None,
    said: list[tuple[int, str]],
    base: datetime,
) -> Decision:
    """``Decision(actions=..., ..., base=...)``: its fields' dict set at once.

    The frozen dataclass's ``__init__`` sets its eight fields one ``object.__setattr__``
    each; it has no ``__post_init__`` and no slots, so the dict is all it sets
    (``tests/test_decide_plans.py`` checks the two equal, field order included).
    """
    decision = _new(Decision)
    _set_decision_dict(
        decision,
        {
            "actions": actions,
            "kept": kept,
            "outcomes": outcomes,
            "severity": severity,
            "follow_ups": follow_ups,
            "respond_by": respond_by,
            "said": said,
            "base": base,
        },
    )
    return decision


_new = object.__new__
_set_decision_dict = Decision.__dict__["__dict__"].__set__


@dataclass(frozen=True)
class _Matches:
    """What :func:`decide` makes of one list of ranked matches, whatever the incident.

    Kept on the first matched rule (a cache, as :func:`_plan` keeps a rule's), keyed by
    the ids of the matched rules, which ``others`` keeps alive (so no other rule takes one
    of those ids while the entry lives). Nothing here refers to the first rule: a rule
    ranked below another is never first of a list holding it, so no cycle forms.
    """

    others: tuple[CompiledRule, ...]  # matched[1:]
    kept: tuple[CompiledRule, ...]  # the kept rules after the first (which is always kept)
    outcomes: dict[str, str]  # copied per decision
    # per chosen action: the step, its rule's policy, and for a compensation the policy's
    # repeat-claimant limit (None: no limit applies to it)
    items: tuple[tuple[_Step, Policy, int | None], ...]
    said: tuple[tuple[int, str], ...]
    follows: tuple[tuple[dict[str, Any], BusinessCalendar | None], ...]  # sorted by "after"
    floor: int  # the highest severity level a kept rule raises to (0: none)
    playbooks: tuple[Playbook, ...]  # the kept rules' playbooks, in rank order
    # channel -> (the calendar or None, the SLA) of its first kept playbook with an SLA for
    # it, or None; filled as channels come
    deadlines: dict[str, tuple[BusinessCalendar | None, timedelta] | None]


#: How many lists of matches a first rule remembers (then it starts again).
_MATCHES_KEPT = 256


def _matched(matched: Sequence[CompiledRule]) -> _Matches:
    """:class:`_Matches` of these ranked matches, made once and kept on the first rule."""
    first = matched[0]
    memo: dict[tuple[int, ...], _Matches] | None = first.__dict__.get("_decide_matches")
    if memo is None:
        memo = {}
        object.__setattr__(first, "_decide_matches", memo)  # a cache, not a field
    key = tuple(map(id, matched))
    found = memo.get(key)
    if found is None:
        if len(memo) >= _MATCHES_KEPT:
            memo.clear()  # bounded: a cleared memo only costs time
        found = memo[key] = _matches_of(matched)
    return found


def _matches_of(matched: Sequence[CompiledRule]) -> _Matches:
    kept, outcomes = _keep(matched)
    chosen = _chosen(kept, outcomes)
    items = tuple(
        (
            step,
            rule.playbook.policy,
            rule.playbook.policy.repeat_claimant_after if step.compensation else None,
        )
        for rule, step in chosen
    )
    follows = [
        (step.follow, rule.playbook.hours) for rule, step in chosen if step.follow is not None
    ]
    follows.sort(key=lambda item: item[0]["after"])  # stable: decide's sort of the plans
    floor = max(
        (SEVERITIES.index(rule.rule.severity) for rule in kept if rule.rule.severity is not None),
        default=0,
    )
    return _Matches(
        others=tuple(matched[1:]),
        kept=tuple(kept[1:]),
        outcomes=outcomes,
        items=items,
        said=tuple((rule.order, step.step) for rule, step in chosen),
        follows=tuple(follows),
        floor=floor,
        playbooks=tuple(rule.playbook for rule in kept),
        deadlines={},
    )


def outline(matched: Sequence[CompiledRule], incident: Incident) -> Outline:
    """:func:`decide`'s actions, kept rules and severity, as plain tuples.

    For comparing many decisions (a backtest): no model is built and no date is counted
    (follow-ups and deadlines are not compared), so it costs a fraction of :func:`decide`.
    ``tests/test_backtest_fast.py`` holds it equal to :func:`decide`.
    """
    kept, outcomes = _keep(matched)
    actions: list[ActionKey] = []
    rules: dict[str, None] = {}
    for _, step, params, cost, approval in _settle(kept, incident, outcomes):
        if type(params) is not FrozenMap:
            params = FrozenMap(params)
        if cost is None:
            actions.append((step.kind, params, None, None, approval))
        else:
            actions.append((step.kind, params, round(cost[0] * 100), cost[1], approval))
        rules[step.values["rule"]] = None
    ids = tuple([rule.rule.id for rule in kept])
    return Outline(tuple(actions), ids, tuple(rules), _severity(kept, incident))


def outline_reads(matched: Sequence[CompiledRule]) -> Callable[[Incident], Hashable]:
    """What :func:`outline` of these ranked matches reads of an incident, as a key.

    Two incidents with equal keys get equal outlines from the same matches, so a backtest
    may outline each distinct key once. Besides the matches, :func:`_settle` and
    :func:`_severity` read only: the incident's severity; for a costly action the order's
    value and currency and the customer's tier (the cap); for a compensating action whose
    playbook limits repeat claimants, whether the customer is over that limit. A change
    to what they read must change this too (``tests/test_backtest_fast.py`` holds them
    equal).
    """
    kept, _ = _keep(matched)
    costly = False
    limits: set[int] = set()
    for rule in kept:
        limit = rule.playbook.policy.repeat_claimant_after
        for step in _plan(rule).steps:
            costly = costly or step.costly
            if step.compensation and limit is not None:
                limits.add(limit)
    over = tuple(sorted(limits))

    def key(incident: Incident) -> Hashable:
        customer = incident.customer
        repeat: tuple[bool, ...] = ()
        if over:
            claims = customer.compensations_90d or 0
            repeat = tuple([claims > limit for limit in over])
        if costly:
            order = incident.order
            return incident.severity, repeat, customer.tier, order.value, order.currency
        return incident.severity, repeat

    return key


def due_from(
    base: datetime, promise: Mapping[str, Any], hours: BusinessCalendar | None
) -> datetime:
    """When a promise falls due from ``base``.

    A person's promise (call back, follow up, escalate) falls in the team's open time; a
    survey is sent by a machine, on the calendar.
    """
    after: timedelta = promise["after"]
    if hours is not None and promise["action"] != "survey":
        return hours.add(base, after)
    return base + after


def follow_up_of(action: object) -> dict[str, Any] | None:
    """What an action promises for later (a FollowUpPlan's fields but ``due``)."""
    if isinstance(action, Survey):
        after, channel, kind, survey, purpose = (
            action.after,
            action.channel,
            "survey",
            action.survey,
            None,
        )
    elif isinstance(action, FollowUp):
        after, channel, kind, survey, purpose = (
            action.after,
            action.channel,
            "follow_up",
            None,
            action.purpose,
        )
    elif isinstance(action, Callback):
        after, channel, kind, survey, purpose = action.within, "phone", "callback", None, None
    elif isinstance(action, Escalate) and action.within is not None:
        after, channel, kind, survey, purpose = action.within, None, "escalate", None, None
    else:
        return None
    return {
        "after": after,
        "channel": channel,
        "action": kind,
        "survey": survey,
        "purpose": purpose,
        "due": None,
    }


@dataclass(frozen=True)
class _Step:
    """An action of a rule with everything about it that no incident changes."""

    action: Action
    kind: str
    compensation: bool
    costly: bool  # a refund, or an action with a fixed amount
    params: FrozenMap[str, Any]  # frozen in depth: shared by every decision, never changed
    forced: bool | None  # the action's own requires_approval
    values: dict[str, Any]  # the SuggestedAction's fields that no incident changes
    follow: dict[str, Any] | None
    step: str  # the part of the recovery the reply says it in
    # an action without a cost, as it is suggested without approval and with it (nothing
    # else of it depends on the incident); None for an action with a cost
    plain: tuple[SuggestedAction, SuggestedAction] | None


@dataclass(frozen=True)
class _RulePlan:
    rule: str
    offers: bool  # an action of the rule is a compensation
    steps: tuple[_Step, ...]


def _plan(rule: CompiledRule) -> _RulePlan:
    """The rule's actions, prepared once and kept on the rule itself.

    A decision then only adds what depends on the incident: costs, caps, approval, dates.
    """
    plan: _RulePlan | None = rule.__dict__.get("_decide_plan")
    if plan is None:
        steps = []
        for action in rule.rule.actions:
            params = freeze(action.model_dump(mode="json", exclude=_META, exclude_none=True))
            values = {
                "kind": action.kind,
                "rule": rule.id,
                "playbook": rule.playbook.ref,
                "priority": rule.rule.priority,
                "params": None,
                "reason": rule.rule.reason,
                "requires_approval": None,
                "cost": None,
                "dimension": action.dimension,
                "stage": action.stage,
            }
            costly = isinstance(action, Refund) or getattr(action, "amount", None) is not None
            steps.append(
                _Step(
                    action=action,
                    kind=action.kind,
                    compensation=is_compensation(action),
                    costly=costly,
                    params=params,
                    forced=action.requires_approval,
                    values=values,
                    follow=follow_up_of(action),
                    step=recovery_step(action),
                    plain=None
                    if costly
                    else (_plain(values, params, False), _plain(values, params, True)),
                )
            )
        plan = _RulePlan(
            rule=rule.id,
            offers=any(step.compensation for step in steps),
            steps=tuple(steps),
        )
        object.__setattr__(rule, "_decide_plan", plan)  # a cache, not a field
    return plan


def _deadline(
    playbooks: Sequence[Playbook], channel: str
) -> tuple[BusinessCalendar | None, timedelta] | None:
    """The SLA of the first playbook with one for ``channel``, and its calendar or None.

    The calendar when the SLA counts in business time, None when on the plain calendar;
    None without a playbook that has an SLA for the channel.
    """
    for playbook in playbooks:
        sla = playbook.sla.get(channel)
        if sla is not None:
            if playbook.hours is not None and channel in playbook.business:
                return playbook.hours, sla
            return None, sla
    return None


def _plain(values: dict[str, Any], params: FrozenMap[str, Any], approval: bool) -> SuggestedAction:
    """The action without a cost as :func:`decide` suggests it (its parameters as declared)."""
    return trusted(
        SuggestedAction, {**values, "params": params, "requires_approval": approval, "cost": None}
    )
