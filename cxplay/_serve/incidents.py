"""``POST /v1/incidents``: the service as a source of ``cxplay watch`` (docs/serve.md).

A request carries one incident (a JSON object), a batch (a JSON array) or JSON lines
(``application/x-ndjson``), at most :data:`MAX_BATCH` incidents. They go, in order, through
the correlator this process holds -- the same :class:`~cxplay._watch.watch.Watcher` as
``cxplay watch``, its state kept in the decision log's store under one name (``serve`` by
default) -- and the answer says per incident what happened (its decision id, its flags,
the disruptions it opened or joined) with the events ``cxplay watch`` would have written,
notices included: the service *returns* its notices, and the caller (the helpdesk
integration) sends them.

Order of work, per request: correlate every incident (in memory), **commit** the batch --
new disruptions, members with their notice time, the correlator's state -- in one
transaction, then make the suggestions (each recorded in the decision log), then answer.
A request that misses its deadline before the commit changes nothing (503; the in-memory
state is read back from the store); one whose commit has begun is waited for.

Several workers or replicas on one log share one state: the commit is refused when another
process saved the state since this one read it (the store's ``updated_at``, checked under
the write lock: ``BEGIN IMMEDIATE`` on SQLite, an advisory lock on PostgreSQL); the process
then reads the state back and correlates the batch again. Processes take turns: correct,
not parallel.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from cxplay._common.instants import moment
from cxplay._incidents import _too_big, parse_incident
from cxplay._present import error_lines
from cxplay._serve.common import json_depth_ok
from cxplay._serve.guard import deadline_of
from cxplay._serve.service import GATE, Metrics, RecordCancelled, RecordGate, Service
from cxplay._watch.run import restore
from cxplay._watch.store import StateConflict, WatchStore, masked_state
from cxplay._watch.watch import Watcher
from cxplay.errors import CxplayError, IncidentError, LogError

__all__ = ["MAX_BATCH", "IncidentFeed", "IncidentsResponse", "mount_incidents"]

#: The most incidents one request may carry (the body's 1 MiB cap holds as well).
MAX_BATCH = 1_000
#: Media types read as JSON lines (one incident a line).
JSONL_TYPES = ("application/x-ndjson", "application/jsonl", "application/jsonlines")
#: How often a commit refused because another process saved first is tried again (the
#: workers take turns through the store, so only a writer outside the turn can cause it).
RETRIES = 8

_UNSYNCED: Any = object()


class DisruptionRef(BaseModel):
    """A disruption an incident opened or joined."""

    model_config = ConfigDict(extra="forbid")
    disruption_id: str
    event: Literal["opened", "attached"]


class IncidentResult(BaseModel):
    """What happened to one incident of the request."""

    model_config = ConfigDict(extra="forbid")
    index: int = Field(description="Its place in the request, from 0.")
    line: int | None = Field(None, description="Its line, for JSON lines.")
    incident_id: str | None = None
    status: Literal["processed", "duplicate", "invalid"]
    decision_id: str | None = Field(None, description="The suggestion's id in the log.")
    flags: list[str] = Field(
        default_factory=list, description="late, no_occurred_at, no_key (as cxplay watch)."
    )
    disruptions: list[DisruptionRef] = Field(default_factory=list)
    notices: int = Field(0, description="Notices this incident caused (to it or others).")
    errors: list[str] = Field(default_factory=list, description="Why it was refused.")


class IncidentsSummary(BaseModel):
    """Counts over the request."""

    model_config = ConfigDict(extra="forbid")
    incidents: int
    processed: int
    duplicates: int
    invalid: int
    disruptions_opened: int
    attached: int
    notices: int


class IncidentsResponse(BaseModel):
    """The answer of ``POST /v1/incidents``."""

    model_config = ConfigDict(extra="forbid")
    results: list[IncidentResult]
    events: list[dict[str, Any]] = Field(
        description="The events `cxplay watch` writes for these incidents, in its order: "
        "suggestion, disruption_opened, incident_attached, notice."
    )
    summary: IncidentsSummary


@dataclass
class Item:
    """One incident of a request, parsed (``raw``) or refused (``errors``)."""

    index: int
    line: int | None
    raw: dict[str, Any] | None = None
    errors: list[str] = field(default_factory=list)


def _lines(error: CxplayError) -> list[str]:
    return [line.removeprefix("Error: ") for line in error_lines(error)]


def parse_batch(body: bytes, kind: str, max_depth: int) -> tuple[list[Item], bool]:
    """The request's incidents, and whether it was a single object (not a batch).

    Raises:
        IncidentError: the body as a whole cannot be read (a problem+json 422).
    """
    items: list[Item] = []
    if kind in JSONL_TYPES:
        numbered = [(n, line) for n, line in enumerate(body.split(b"\n"), 1) if line.strip()]
        if not numbered:
            raise IncidentError("<request>: no incidents (one JSON object a line)")
        if len(numbered) > MAX_BATCH:
            raise IncidentError(
                f"<request>: {len(numbered):,} incidents; a request carries at most {MAX_BATCH:,}"
            )
        for index, (number, line) in enumerate(numbered):
            item = Item(index, number)
            try:
                raw = parse_incident(line, name=f"<request>:{number}", fmt="json")
            except IncidentError as exc:
                item.errors = _lines(exc)
            else:
                if json_depth_ok(raw, max_depth):
                    item.raw = raw
                else:
                    item.errors = [f"<request>:{number}: nested deeper than {max_depth} levels"]
            items.append(item)
        return items, False
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IncidentError(f"<request>: not UTF-8 (byte {exc.start})") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise IncidentError(
            f"<request>: not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise IncidentError(f"<request>: nested deeper than {max_depth} levels") from None
    if isinstance(value, dict):
        value, single = [value], True
    elif isinstance(value, list):
        single = False
        if not value:
            raise IncidentError("<request>: an empty batch: send one incident or a list of them")
        if len(value) > MAX_BATCH:
            raise IncidentError(
                f"<request>: {len(value):,} incidents; a request carries at most {MAX_BATCH:,}"
            )
    else:
        raise IncidentError(
            f"<request>: send an incident (an object) or a list of them, not {type(value).__name__}"
        )
    for index, raw in enumerate(value):
        item = Item(index, None)
        where = "<request>" if single else f"<request>[{index}]"
        why: str | None = None
        if not isinstance(raw, dict):
            why = f"an incident is a JSON object, not {type(raw).__name__}"
        elif not json_depth_ok(raw, max_depth):
            why = f"nested deeper than {max_depth} levels"
        else:
            why = _too_big(json.dumps(raw, ensure_ascii=False).encode())
        if why is None:
            item.raw = raw
        elif single:
            raise IncidentError(f"{where}: {why}")
        else:
            item.errors = [f"{where}: {why}"]
        items.append(item)
    return items, single


@dataclass
class _Done:
    """One item after correlation."""

    item: Item
    incident: Any = None
    flags: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    duplicate: bool = False


class IncidentFeed:
    """This process's correlator for ``/v1/incidents``; its state lives in the log's store."""

    def __init__(self, service: Service, *, name: str, lateness: timedelta) -> None:
        self.service = service
        self.name = name
        self.lateness = lateness
        self._lock = threading.Lock()  # one batch at a time in this process
        self._watcher: Watcher | None = None
        self._version: datetime | None = _UNSYNCED
        #: how many times a commit found that another process had saved first (tests)
        self.conflicts = 0

    def _sync(self, store: WatchStore) -> Watcher:
        """The watcher, read back from the store when it may differ from memory.

        That is: another process saved since, a reload changed the engine, or a failed
        request left the memory ahead of the store.
        """
        engine = self.service.engine
        saved = store.updated_at(self.name)
        watcher = self._watcher
        if watcher is None or watcher.engine is not engine or saved != self._version:
            watcher = Watcher(engine, lateness=self.lateness, suggestions=False)
            restore(watcher, store, self.name)
            self._watcher, self._version = watcher, saved
        return watcher

    def feed(self, items: Sequence[Item], *, suggestions: bool) -> IncidentsResponse:
        """Correlate, commit, then suggest: the whole request (in a worker thread)."""
        log = self.service.log
        assert log is not None  # the route answers 409 without a log
        store = WatchStore(log)
        gate = GATE.get()
        with self._lock, store.turn(self.name):
            for _ in range(RETRIES):
                watcher = self._sync(store)
                try:
                    done = self._correlate(watcher, items)
                    batch = watcher.take_batch()
                    if gate is not None and not gate.begin():
                        raise RecordCancelled
                    correlator = watcher.correlator
                    watermark = correlator.watermark
                    self._version = store.save(
                        self.name,
                        state=masked_state(correlator.snapshot(), log.mask),
                        offsets={},
                        watermark=None if watermark is None else moment(watermark),
                        opened=batch.opened,
                        members=batch.members,
                        noticed=True,
                        expect=self._version,
                    )
                except StateConflict:
                    self._version = _UNSYNCED
                    self.conflicts += 1
                    continue
                except BaseException:
                    self._version = _UNSYNCED  # the memory is ahead of the store: read it back
                    raise
                held = [d.id for d in watcher.correlator.disruptions()]
                for ident in store.resolved_among(held):
                    watcher.correlator.resolve(ident)
                break
            else:
                raise LogError(
                    "the log is busy: other processes kept saving the correlation state; try again"
                )
        return self._answer(watcher, done, suggestions, self.service.metrics)

    @staticmethod
    def _correlate(watcher: Watcher, items: Sequence[Item]) -> list[_Done]:
        done = []
        for item in items:
            entry = _Done(item)
            if item.raw is not None:
                try:
                    found = watcher.correlate(item.raw)
                except CxplayError as exc:  # invalid: nothing of it was kept
                    item.errors = _lines(exc)
                else:
                    if found is None:
                        entry.duplicate = True
                    else:
                        entry.incident, entry.flags, entry.events = found
            done.append(entry)
        return done

    @staticmethod
    def _answer(
        watcher: Watcher, done: list[_Done], suggestions: bool, metrics: Metrics
    ) -> IncidentsResponse:
        results: list[IncidentResult] = []
        events: list[dict[str, Any]] = []
        for entry in done:
            item = entry.item
            raw_id = item.raw.get("id") if item.raw is not None else None
            result = IncidentResult(
                index=item.index,
                line=item.line,
                incident_id=raw_id if isinstance(raw_id, str) else None,
                status="invalid",
                errors=item.errors,
            )
            if entry.duplicate:
                result.status = "duplicate"
            elif entry.incident is not None:
                result.status = "processed"
                result.incident_id = entry.incident.id
                result.flags = entry.flags
                if suggestions:
                    event = watcher.suggestion(entry.incident, entry.flags)
                    result.decision_id = event.get("decision_id")
                    if "error" in event:
                        result.errors = [str(event["error"])]
                    else:  # counted in /metrics like a /v1/suggest answer
                        actions = event.get("actions") or []
                        metrics.counted(bool(event.get("matched")), [a["rule"] for a in actions])
                    events.append(event)
                for event in entry.events:
                    kind = event["event"]
                    if kind == "disruption_opened":
                        ref = DisruptionRef(disruption_id=event["disruption_id"], event="opened")
                        result.disruptions.append(ref)
                    elif kind == "incident_attached" and event["incident_id"] == entry.incident.id:
                        ident = event["disruption_id"]
                        if not any(d.disruption_id == ident for d in result.disruptions):
                            ref = DisruptionRef(disruption_id=ident, event="attached")
                            result.disruptions.append(ref)
                    elif kind == "notice":
                        result.notices += 1
                events.extend(entry.events)
            results.append(result)
        summary = IncidentsSummary(
            incidents=len(results),
            processed=sum(r.status == "processed" for r in results),
            duplicates=sum(r.status == "duplicate" for r in results),
            invalid=sum(r.status == "invalid" for r in results),
            disruptions_opened=sum(e["event"] == "disruption_opened" for e in events),
            attached=sum(e["event"] == "incident_attached" for e in events),
            notices=sum(e["event"] == "notice" for e in events),
        )
        return IncidentsResponse(results=results, events=events, summary=summary)


def mount_incidents(
    app: FastAPI,
    service: Service,
    agent: Sequence[Any],
    *,
    responses: dict[int | str, dict[str, Any]],
    timeout: float,
    max_depth: int,
    name: str,
    lateness: timedelta,
    no_log: Callable[[], Exception],
    unsupported: Callable[[str], Exception],
) -> IncidentFeed:
    """Add ``POST /v1/incidents`` to the app; returns its feed (tests look at it)."""
    feed = IncidentFeed(service, name=name, lateness=lateness)

    async def in_thread(items: list[Item], suggestions: bool) -> IncidentsResponse:
        gate = RecordGate()

        def gated() -> IncidentsResponse:
            GATE.set(gate)
            return feed.feed(items, suggestions=suggestions)

        task = asyncio.ensure_future(asyncio.to_thread(gated))
        try:
            return await asyncio.wait_for(asyncio.shield(task), deadline_of(timeout))
        except (asyncio.TimeoutError, asyncio.CancelledError):
            if gate.close():  # nothing committed, nothing will be
                task.add_done_callback(_consume)
                raise
            return await task  # committed: the answer is owed

    @app.post(
        "/v1/incidents",
        tags=["disruptions"],
        summary="Feed incidents to the service's correlator (as `cxplay watch`)",
        description=(
            "One incident (a JSON object), a batch (a JSON array) or JSON lines "
            f"(application/x-ndjson), at most {MAX_BATCH:,} incidents. Each gets its "
            "suggestion (recorded in the decision log) and joins the correlation windows; "
            "the answer lists per incident what happened and the events `cxplay watch` "
            "would write, notices included (the caller sends them). Needs --log."
        ),
        response_model=IncidentsResponse,
        responses=responses,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "anyOf": [
                                {"$ref": "#/components/schemas/Incident"},
                                {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/Incident"},
                                    "maxItems": MAX_BATCH,
                                },
                            ]
                        }
                    },
                    "application/x-ndjson": {"schema": {"type": "string"}},
                },
            }
        },
        dependencies=list(agent),
    )
    async def incidents(
        request: Request,
        suggestions: Annotated[
            bool, Query(description="Make (and record) each incident's suggestion.")
        ] = True,
    ) -> Response:
        if service.log is None:
            raise no_log()
        kind = request.headers.get("content-type", "application/json").split(";")[0].strip()
        if kind != "application/json" and kind not in JSONL_TYPES:
            raise unsupported(kind)
        body = await request.body()
        items, single = parse_batch(body, kind, max_depth)
        if single and items[0].raw is not None:
            service.engine.incident(items[0].raw)  # one invalid incident: a 422 problem
        answer = await in_thread(items, suggestions)
        return Response(answer.model_dump_json(), media_type="application/json")

    return feed


def _consume(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # RecordCancelled, most likely: nothing to log
