"""Notices: what every customer of a disruption is told, rendered like a reply.

A notice is a reply composed by the same renderer, with the same sandbox, strictness,
SMS segments and spoken scripts: the incident is the member's own (its customer's name,
language, channel, order), its type is ``notice.<correlation id>`` (or
``resolved.<correlation id>``) so that ``subject.`` and ``situation.`` fragments of that
name tell what happened, and its actions are the block's ``notice`` (or ``resolution``)
actions. The correlator never renders (DESIGN's one-way flow): the watcher calls this.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from cxplay._common.models import trusted
from cxplay._engine.decide import due_from, follow_up_of
from cxplay._playbooks.loader import CompiledCorrelation
from cxplay._replies.renderer import Renderer, ReplyContext
from cxplay.models import Action, Incident
from cxplay.results import FollowUpPlan, Reply, SuggestedAction

__all__ = ["NoticeKind", "disruption_actions", "notice_type", "render_notice"]

NoticeKind = Literal["notice", "resolved"]

_META = {"kind", "dimension", "stage", "requires_approval", "note"}


def notice_type(kind: NoticeKind, correlation: str) -> str:
    """The incident type a notice is rendered as: ``notice.parcel.carrier_wave``."""
    return f"{kind}.{correlation}"


def _suggested(actions: Sequence[Action], compiled: CompiledCorrelation) -> list[SuggestedAction]:
    block = compiled.correlate
    return [
        trusted(
            SuggestedAction,
            {
                "kind": action.kind,
                "rule": block.id,
                "playbook": compiled.playbook.ref,
                "priority": 0,
                "params": action.model_dump(mode="json", exclude=_META, exclude_none=True),
                "reason": block.reason,
                "requires_approval": bool(action.requires_approval),
                "cost": None,
                "dimension": action.dimension,
                "stage": action.stage,
            },
        )
        for action in actions
    ]


def disruption_actions(compiled: CompiledCorrelation) -> list[dict[str, Any]]:
    """The disruption's own actions (escalate, inform a team), as the events carry them."""
    return [a.model_dump(mode="json") for a in _suggested(compiled.correlate.actions, compiled)]


def _follow_ups(
    actions: Sequence[Action], compiled: CompiledCorrelation, now: datetime | None
) -> list[FollowUpPlan]:
    """What the notice promises for later, due from ``now`` as a suggestion's are."""
    hours = compiled.playbook.hours
    plans = []
    for action in actions:
        promise = follow_up_of(action)
        if promise is None:
            continue
        if now is not None:
            promise["due"] = due_from(now, promise, hours)
        plans.append(trusted(FollowUpPlan, promise))
    plans.sort(key=lambda f: f.after)
    return plans


def render_notice(
    renderer: Renderer,
    compiled: CompiledCorrelation,
    incident: Incident,
    kind: NoticeKind,
    *,
    now: datetime | None = None,
) -> Reply:
    """The notice (or resolution notice) for one member, in its language and channel.

    It speaks from ``now`` as a reply speaks from its decision's moment: the block's
    follow-ups fall due from it ("by 10:00 tomorrow") and the closing names how soon the
    playbook answers on the member's channel (its ``[sla]``). The watcher passes event
    time, so a replay renders the same notices; without ``now`` a promise is said as a
    span ("within 24 hours").

    Raises:
        RenderError: a fragment is missing or fails, like any reply.
    """
    block = compiled.correlate
    meta = compiled.playbook.meta
    actions = block.notice if kind == "notice" else block.resolution
    playbook = compiled.playbook
    ctx = ReplyContext(
        actions=_suggested(actions, compiled),
        languages=meta.languages,
        default_language=meta.default_language,
        tone=meta.tone,
        follow_ups=_follow_ups(actions, compiled, now),
        severity=block.severity,
        playbook=meta.id,
        promise=playbook.sla,
        business=playbook.business,
        zone=playbook.hours.zone if playbook.hours is not None else None,
        now=now,
    )
    as_notice = incident.model_copy(update={"type": notice_type(kind, block.id)})
    return renderer.render(as_notice, ctx)
