"""What the console shows beside a suggestion: the customer's last decisions, the disruption.

Two read-only routes over the decision log's store, for an agent token:

* ``GET /v1/decisions?customer_id=...``: the customer's latest decisions (date,
  type, actions, compensation, outcome), newest first, so that a repeat claim is seen
  before the agent answers (:meth:`cxplay.DecisionLog.customer_decisions`);
* ``POST /v1/disruptions/match``: the open disruption (``cxplay watch``) an incident
  belongs to: as a member, or by the correlation key its playbooks' ``[[correlate]]``
  rules give it (:meth:`cxplay._watch.store.WatchStore.link`), with the advice to link
  the ticket to it rather than compensate it on its own.

and the disruptions themselves, for the people who run them:

* ``GET /v1/disruptions``: open and recent disruptions, newest first (agent token), as
  ``cxplay disruptions list`` shows them;
* ``POST /v1/disruptions/{id}/resolve``: resolve one and answer every member's resolution
  notice for the caller to deliver (admin token), as ``cxplay disruptions resolve`` does.

All answer 409 without a decision log. Kept apart from ``app.py`` (one call mounts them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from cxplay._serve.common import NoLog, problem_doc
from cxplay._serve.guard import in_thread
from cxplay._serve.service import Service
from cxplay._watch.watch import Watcher

__all__ = [
    "CustomerDecisionInfo",
    "CustomerDecisions",
    "DisruptionInfo",
    "DisruptionList",
    "DisruptionMatch",
    "DisruptionSummary",
    "Resolution",
    "mount_context",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GivenAmount(_Model):
    """Compensation a decision's latest outcome booked."""

    kind: str
    amount: float | None = Field(description="None: given, amount unknown (a replacement).")
    currency: str | None
    rule: str | None = None


class CustomerDecisionInfo(_Model):
    """One earlier decision for the customer, as the console's history panel shows it."""

    decision_id: str
    created_at: datetime = Field(description="When cxplay made the suggestion.")
    incident_id: str | None = Field(description="The incident's own id (the ticket number).")
    type: str
    channel: str | None
    language: str | None
    severity: str
    actions: list[str] = Field(description="The action kinds suggested, in order.")
    given: list[GivenAmount] = Field(description="What the latest outcome gave (empty: none).")
    status: Literal["accepted", "edited", "rejected"] | None = Field(
        description="The latest outcome; null: none recorded yet."
    )
    decided_at: datetime | None


class CustomerDecisions(_Model):
    """``GET /v1/decisions?customer_id=...``."""

    customer_id: str
    decisions: list[CustomerDecisionInfo] = Field(description="Newest first.")


class DisruptionSummary(_Model):
    """A disruption as ``cxplay disruptions list --format json`` shows it."""

    disruption_id: str
    correlation: str
    playbook: str
    key: Any = Field(description="The correlation key's value (a list for a composite key).")
    title: str | None
    severity: str
    opened_at: datetime
    detected_at: datetime
    members: int
    status: Literal["open", "resolved"]
    resolved_at: datetime | None
    first_notice_at: datetime | None = Field(description="When the first notice went out.")
    time_to_notice_s: float | None


class DisruptionInfo(DisruptionSummary):
    """An open disruption an incident belongs to, and how that was found."""

    via: Literal["member", "key"] = Field(
        description="member: the watcher attached this incident; key: it has the "
        "disruption's correlation key within its window, so the watcher would attach it."
    )
    notice_at: datetime | None = Field(description="When this incident's own notice went out.")


class DisruptionMatch(_Model):
    """``POST /v1/disruptions/match``: the open disruption an incident belongs to, or null."""

    disruption: DisruptionInfo | None
    advice: Literal["link", "none"] = Field(
        description="link: attach the ticket to the disruption instead of compensating it on "
        "its own (the notice tells the customer; the disruption's actions cover the rest)."
    )


class DisruptionList(_Model):
    """``GET /v1/disruptions``: newest first."""

    disruptions: list[DisruptionSummary]


class Resolution(_Model):
    """``POST /v1/disruptions/{id}/resolve``: what ``cxplay disruptions resolve`` writes."""

    events: list[dict[str, Any]] = Field(
        description="One `notice` event (kind `resolution`, with the rendered reply) per member "
        "not told yet, then `disruption_resolved`: the caller delivers the notices."
    )
    problems: list[str] = Field(
        description="Members whose notice could not be made; resolving again retries them."
    )


_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: problem_doc(text)
    for status, text in (
        (400, "The request cannot be served (e.g. the body arrived too slowly)."),
        (401, "No token, or an unknown one."),
        (403, "Wrong role."),
        (409, "No decision log is configured (--log)."),
        (413, "The body is larger than the limit (1 MiB)."),
        (422, "Invalid input: the CLI's one-line messages."),
        (503, "The request took longer than the time limit, or the log failed."),
    )
}


def mount_context(
    app: FastAPI,
    service: Service,
    agent: Sequence[Any],
    parse_body: Callable[[bytes, Literal["json", "toml"]], dict[str, Any]],
    admin: Sequence[Any] = (),
) -> None:
    """Add the customer's decisions, the disruption match and the disruptions' routes."""
    watchers: dict[int, tuple[Any, Watcher]] = {}

    def watcher() -> Watcher:
        """The correlation rules of the engine now served (rebuilt after a reload)."""
        engine = service.engine
        found = watchers.get(0)
        if found is None or found[0] is not engine:
            found = (engine, Watcher(engine, suggestions=False, notices=False))
            watchers[0] = found
        return found[1]

    def log() -> Any:
        if service.log is None:
            raise NoLog
        return service.log

    async def run(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await in_thread(service.config.timeout, function, *args, **kwargs)

    @app.get(
        "/v1/decisions",
        tags=["decision log"],
        summary="A customer's latest decisions: type, actions, compensation, outcome",
        response_model=CustomerDecisions,
        responses=_RESPONSES,
        dependencies=list(agent),
    )
    async def customer_decisions(
        customer_id: Annotated[
            str, Query(min_length=1, max_length=200, description="The customer's id.")
        ],
        limit: Annotated[int, Query(ge=1, le=100, description="How many, newest first.")] = 5,
        exclude: Annotated[
            str | None,
            Query(max_length=40, description="A decision id to leave out (the one on screen)."),
        ] = None,
    ) -> Response:
        rows = await run(log().customer_decisions, customer_id, limit=limit, exclude=exclude)
        answer = CustomerDecisions(
            customer_id=customer_id,
            decisions=[CustomerDecisionInfo.model_validate(r.as_dict()) for r in rows],
        )
        return Response(answer.model_dump_json(), media_type="application/json")

    def match(body: bytes, fmt: Literal["json", "toml"]) -> DisruptionMatch:
        from cxplay._watch.store import WatchStore

        store = WatchStore(log())
        current = watcher()
        incident = service.engine.incident(parse_body(body, fmt))
        at = incident.occurred_at or datetime.now(timezone.utc)
        keys = current.links(incident)
        found = store.link(incident.id, keys, at)
        if found is None:
            return DisruptionMatch(disruption=None, advice="none")
        return DisruptionMatch(
            disruption=DisruptionInfo.model_validate(found.as_dict()), advice="link"
        )

    @app.post(
        "/v1/disruptions/match",
        tags=["decision log"],
        summary="The open disruption an incident belongs to (by id, or by correlation key)",
        response_model=DisruptionMatch,
        responses=_RESPONSES,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Incident"}}
                },
            }
        },
        dependencies=list(agent),
    )
    async def disruption_match(request: Request) -> Response:
        kind = request.headers.get("content-type", "application/json").split(";")[0].strip()
        fmt: Literal["json", "toml"] = "toml" if kind == "application/toml" else "json"
        log()  # 409 before the body is read
        answer = await run(match, await request.body(), fmt)
        return Response(answer.model_dump_json(), media_type="application/json")

    @app.get(
        "/v1/disruptions",
        tags=["decision log"],
        summary="Open and recent disruptions, newest first",
        response_model=DisruptionList,
        responses=_RESPONSES,
        dependencies=list(agent),
    )
    async def disruptions(
        status: Annotated[
            Literal["open", "resolved", "all"], Query(description="Which disruptions.")
        ] = "all",
        limit: Annotated[int, Query(ge=1, le=1000, description="How many, newest first.")] = 50,
    ) -> Response:
        from cxplay._watch.store import WatchStore

        store = WatchStore(log())
        rows = await run(store.disruptions, status=None if status == "all" else status, limit=limit)
        answer = DisruptionList(
            disruptions=[DisruptionSummary.model_validate(r.as_dict()) for r in rows]
        )
        return Response(answer.model_dump_json(), media_type="application/json")

    def resolve(ident: str) -> Resolution:
        from cxplay._watch.resolve import resolve_disruption
        from cxplay._watch.store import WatchStore

        events, problems = resolve_disruption(service.engine, WatchStore(log()), ident)
        return Resolution(events=events, problems=problems)

    @app.post(
        "/v1/disruptions/{disruption_id}/resolve",
        tags=["decision log"],
        summary="Resolve a disruption: every member's resolution notice, for the caller to send",
        response_model=Resolution,
        responses={
            **_RESPONSES,
            404: problem_doc("No such disruption in the log."),
        },
        dependencies=list(admin),
    )
    async def resolve_route(disruption_id: str) -> Response:
        log()  # 409 first
        answer = await run(resolve, disruption_id)
        return Response(answer.model_dump_json(), media_type="application/json")
