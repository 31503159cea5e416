"""Where a watcher keeps disruptions, members and its own state: the decision log's store.

One transaction per batch of incidents writes the disruptions opened, the members attached
(with the time their notice was written), the correlator's state (windows, watermark,
recent ids) and how far each source was read. Only then are the batch's events written
out, so a watcher killed at any point starts again from its last commit: a member or a
notice of an uncommitted batch is redone once, a committed one is never redone.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa

from cxplay._common.text import echo
from cxplay._log import schema as t
from cxplay._log.connect import insert_for
from cxplay._log.privacy import forget_incident, mask_incident
from cxplay._log.store import DecisionLog
from cxplay.errors import CxplayError, LogError

__all__ = [
    "ANY",
    "DisruptionLink",
    "DisruptionRow",
    "MemberRow",
    "StateConflict",
    "WatchStore",
    "forget_customer",
    "masked_state",
]

#: ``save(expect=ANY)``: write whatever state the store holds under the name.
ANY: Any = object()


class StateConflict(CxplayError):
    """Another process saved the watcher's state since this one last read or wrote it."""


@dataclass(frozen=True)
class DisruptionRow:
    """A disruption as the store has it."""

    id: str
    correlation: str
    playbook: str
    key: Any
    title: str | None
    severity: str
    opened_at: datetime
    detected_at: datetime
    members: int
    status: str
    resolved_at: datetime | None
    actions: list[Any]
    first_notice_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able."""
        return {
            "disruption_id": self.id,
            "correlation": self.correlation,
            "playbook": self.playbook,
            "key": self.key,
            "title": self.title,
            "severity": self.severity,
            "opened_at": self.opened_at.isoformat(),
            "detected_at": self.detected_at.isoformat(),
            "members": self.members,
            "status": self.status,
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
            "first_notice_at": self.first_notice_at.isoformat() if self.first_notice_at else None,
            "time_to_notice_s": self.time_to_notice_s,
        }

    @property
    def time_to_notice_s(self) -> float | None:
        """Seconds from the incident that opened it (its occurred_at) to the first notice.

        Meaningful for a live stream; a replay of old incidents shows how old they were.
        """
        if self.first_notice_at is None:
            return None
        return round((self.first_notice_at - self.opened_at).total_seconds(), 3)


@dataclass(frozen=True)
class MemberRow:
    """An incident attached to a disruption."""

    disruption_id: str
    incident_id: str
    customer_id: str | None
    occurred_at: datetime
    late: bool
    incident: dict[str, Any]
    notice_at: datetime | None
    resolution_at: datetime | None


@dataclass(frozen=True)
class DisruptionLink:
    """The open disruption an incident belongs to, and how that was found.

    ``via`` is ``member`` (the watcher attached this incident id) or ``key`` (the incident
    has the disruption's correlation key and falls within its coverage, so the watcher
    would attach it); ``notice_at`` is when this incident's own notice went out (None: not
    a member yet, or no notice).
    """

    disruption: DisruptionRow
    via: str
    notice_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able."""
        return {
            **self.disruption.as_dict(),
            "via": self.via,
            "notice_at": self.notice_at.isoformat() if self.notice_at else None,
        }


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _lock_key(name: str) -> int:
    """A signed 64-bit advisory lock key for a watcher name (PostgreSQL)."""
    digest = hashlib.blake2b(f"cxplay-watch:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _turn_key(conn: sa.Connection, name: str) -> int:
    """The advisory lock key of a watcher name's turn in this database and schema.

    Distinct from the save's key, and per schema: advisory locks are database-wide.
    """
    where = conn.execute(sa.text("SELECT current_database() || '/' || current_schema()")).scalar()
    return _lock_key(f"turn:{where}:{name}")


_FLAGS = os.O_RDWR | os.O_CREAT


def _wait(take: Any, deadline: float, where: str) -> None:
    """Call ``take`` until it returns True, sleeping a little longer each time."""
    pause = 0.001
    while not take():
        if time.monotonic() >= deadline:
            raise LogError(
                f"the log {where} is busy: another process kept the correlation state; try again"
            )
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


class WatchStore:
    """Disruptions and watcher state in a :class:`~cxplay.DecisionLog`'s database."""

    def __init__(self, log: DecisionLog) -> None:
        self.log = log

    @contextmanager
    def turn(self, name: str) -> Iterator[None]:
        """Hold the turn of the processes sharing the state ``name`` (the service's workers).

        Whoever holds it reads the state, correlates and saves with nobody saving in
        between, so a busy worker is never starved by a faster one (optimistic retries
        alone can lose every round). PostgreSQL: a session advisory lock; SQLite: an
        exclusive ``flock`` on a file beside the database (``log.db.turn-<hash of name>``;
        an in-memory log has one process).
        Waits up to the log's timeout, then raises :class:`LogError` ("the log is busy").
        """
        deadline = time.monotonic() + self.log.timeout
        engine = self.log._engine
        if engine.dialect.name == "postgresql":
            with self.log._errors():
                conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            held = False
            try:
                with self.log._errors():
                    key = _turn_key(conn, name)
                    _wait(
                        lambda: bool(
                            conn.execute(sa.select(sa.func.pg_try_advisory_lock(key))).scalar()
                        ),
                        deadline,
                        self.log.where,
                    )
                held = True
                yield
            finally:
                if held:
                    try:
                        conn.execute(sa.select(sa.func.pg_advisory_unlock(key)))
                    except Exception:  # never pool a connection that may still hold the lock
                        conn.invalidate()
                conn.close()
            return
        database = engine.url.database
        if not database or database == ":memory:" or database.startswith("file::memory:"):
            yield
            return
        import fcntl  # POSIX; imported here so that the module loads everywhere

        try:
            fd = os.open(f"{database}.turn-{_lock_key(name) & 0xFFFFFFFF:08x}", _FLAGS, 0o600)
        except OSError:  # a read-only directory: the saves' optimistic check still holds
            yield
            return
        try:

            def take() -> bool:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return False
                return True

            _wait(take, deadline, self.log.where)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    # -- the watcher's state -----------------------------------------------------------

    def load(self, name: str) -> tuple[dict[str, Any] | None, dict[str, int]]:
        """The correlator snapshot and source offsets saved under ``name`` (None: fresh)."""
        with self.log.connection() as conn:
            row = conn.execute(
                sa.select(t.watch_state.c.state, t.watch_state.c.offsets).where(
                    t.watch_state.c.name == name
                )
            ).first()
        if row is None:
            return None, {}
        return dict(row.state), {str(k): int(v) for k, v in dict(row.offsets).items()}

    def save(
        self,
        name: str,
        *,
        state: dict[str, Any],
        offsets: dict[str, int],
        watermark: datetime | None,
        opened: Sequence[dict[str, Any]],
        members: Sequence[dict[str, Any]],
        noticed: bool,
        expect: datetime | None = ANY,
    ) -> datetime:
        """One transaction: new disruptions and members, then the state and offsets.

        With ``expect`` (the ``updated_at`` this process last read or wrote, None for no
        state yet), the write is refused with :class:`StateConflict` -- nothing written --
        when another process saved under ``name`` meanwhile: processes sharing a state
        (the service's workers) take turns through the store. Returns the new
        ``updated_at``.
        """
        now = _now()
        with self.log._write() as conn:  # the log's write transaction (BEGIN IMMEDIATE)
            if expect is not ANY:
                if conn.dialect.name == "postgresql":  # SQLite: BEGIN IMMEDIATE serialises
                    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_lock_key(name))))
                found = conn.execute(
                    sa.select(t.watch_state.c.updated_at).where(t.watch_state.c.name == name)
                ).scalar()
                if found != expect:
                    raise StateConflict(f"the watcher state {name!r} was saved by another process")
            insert = insert_for(conn)
            if opened:
                rows = [
                    {
                        "id": o["disruption_id"],
                        "correlation": o["correlation"],
                        "playbook": o["playbook"],
                        "key": o["key"],
                        "title": o["title"],
                        "severity": o["severity"],
                        "opened_at": datetime.fromisoformat(o["opened_at"]),
                        "detected_at": now,
                        "members": 0,
                        "status": "open",
                        "resolved_at": None,
                        "actions": o["actions"],
                    }
                    for o in opened
                ]
                conn.execute(insert(t.disruption).values(rows).on_conflict_do_nothing())
            if members:
                rows = [
                    {
                        "disruption_id": m["disruption_id"],
                        "incident_id": m["incident_id"],
                        "customer_id": m["customer_id"],
                        "occurred_at": m["occurred_at"],
                        "late": m["late"],
                        "incident": mask_incident(m["incident"], self.log.mask),
                        "notice_at": now if noticed else None,
                        "resolution_at": None,
                    }
                    for m in members
                ]
                conn.execute(insert(t.disruption_member).values(rows).on_conflict_do_nothing())
                counts: dict[str, int] = {}
                for m in members:
                    counts[m["disruption_id"]] = counts.get(m["disruption_id"], 0) + 1
                for ident in counts:
                    total = (
                        sa.select(sa.func.count())
                        .select_from(t.disruption_member)
                        .where(t.disruption_member.c.disruption_id == ident)
                        .scalar_subquery()
                    )
                    conn.execute(
                        t.disruption.update()
                        .where(t.disruption.c.id == ident)
                        .values(members=total)
                    )
            values = {
                "watermark": watermark,
                "state": state,
                "offsets": offsets,
                "updated_at": now,
            }
            statement = insert(t.watch_state).values(name=name, **values)
            conn.execute(statement.on_conflict_do_update(index_elements=["name"], set_=values))
            stored = conn.execute(
                sa.select(t.watch_state.c.updated_at).where(t.watch_state.c.name == name)
            ).scalar()
        return stored if isinstance(stored, datetime) else now

    def updated_at(self, name: str) -> datetime | None:
        """When the state under ``name`` was last saved (None: never)."""
        with self.log._read(flush=False) as conn:
            found = conn.execute(
                sa.select(t.watch_state.c.updated_at).where(t.watch_state.c.name == name)
            ).scalar()
        return found if isinstance(found, datetime) else None

    def resolved_among(self, ids: Iterable[str]) -> set[str]:
        """Which of these disruptions were resolved (by ``cxplay disruptions resolve``)."""
        wanted = list(ids)
        if not wanted:
            return set()
        with self.log.connection() as conn:
            rows = conn.execute(
                sa.select(t.disruption.c.id).where(
                    t.disruption.c.id.in_(wanted), t.disruption.c.status == "resolved"
                )
            )
            return {r.id for r in rows}

    # -- people's view -----------------------------------------------------------------

    def disruptions(self, *, status: str | None = None, limit: int = 50) -> list[DisruptionRow]:
        """Disruptions, newest first: open ones and recent resolved ones."""
        first_notice = (
            sa.select(sa.func.min(t.disruption_member.c.notice_at))
            .where(t.disruption_member.c.disruption_id == t.disruption.c.id)
            .scalar_subquery()
        )
        query = sa.select(t.disruption, first_notice.label("first_notice_at")).order_by(
            t.disruption.c.detected_at.desc(), t.disruption.c.id
        )
        if status is not None:
            query = query.where(t.disruption.c.status == status)
        with self.log.connection() as conn:
            rows = conn.execute(query.limit(limit)).all()
        return [self._row(r) for r in rows]

    @staticmethod
    def _row(r: Any) -> DisruptionRow:
        first = _aware(r.first_notice_at)
        return DisruptionRow(
            r.id,
            r.correlation,
            r.playbook,
            r.key,
            r.title,
            r.severity,
            r.opened_at,
            r.detected_at,
            r.members,
            r.status,
            r.resolved_at,
            list(r.actions),
            first,
        )

    def _first_notice(self) -> Any:
        return (
            sa.select(sa.func.min(t.disruption_member.c.notice_at))
            .where(t.disruption_member.c.disruption_id == t.disruption.c.id)
            .scalar_subquery()
            .label("first_notice_at")
        )

    def link(
        self,
        incident_id: str | None,
        keys: Sequence[tuple[str, Any, timedelta, timedelta]],
        at: datetime,
    ) -> DisruptionLink | None:
        """The open disruption an incident belongs to (the console's "part of" panel).

        First by membership (the watcher attached ``incident_id``); else by key: ``keys``
        are the incident's (correlation id, key as the events show it, within, hold), from
        the playbooks' ``[[correlate]]`` rules (:meth:`Watcher.keys`), and an open
        disruption of that correlation and key whose coverage ([first member − within,
        last member + hold], the correlator's rule) holds ``at`` is the one the watcher
        would attach the incident to (the newest, if several). None: no open disruption.
        """
        d, m = t.disruption.c, t.disruption_member.c
        with self.log.connection() as conn:
            if incident_id is not None:
                mine = t.disruption_member.alias("mine")
                row = conn.execute(
                    sa.select(t.disruption, self._first_notice(), mine.c.notice_at.label("own"))
                    .join(mine, mine.c.disruption_id == d.id)
                    .where(mine.c.incident_id == incident_id, d.status == "open")
                    .order_by(d.opened_at.desc(), d.id)
                    .limit(1)
                ).first()
                if row is not None:
                    return DisruptionLink(self._row(row), "member", _aware(row.own))
            best: tuple[datetime, Any] | None = None
            for correlation, key, within, hold in keys:
                rows = conn.execute(
                    sa.select(
                        t.disruption,
                        self._first_notice(),
                        sa.select(sa.func.min(m.occurred_at))
                        .where(m.disruption_id == d.id)
                        .scalar_subquery()
                        .label("first_at"),
                        sa.select(sa.func.max(m.occurred_at))
                        .where(m.disruption_id == d.id)
                        .scalar_subquery()
                        .label("last_at"),
                    ).where(d.correlation == correlation, d.status == "open")
                ).all()
                for row in rows:
                    first, last = _aware(row.first_at), _aware(row.last_at)
                    if row.key != key or first is None or last is None:
                        continue
                    if not first - within <= at <= last + hold:
                        continue
                    if best is None or row.opened_at > best[0]:
                        best = (row.opened_at, row)
        if best is None:
            return None
        return DisruptionLink(self._row(best[1]), "key", None)

    def find(self, ident: str) -> DisruptionRow:
        """The disruption with this id (or a unique prefix of at least 6 characters)."""
        with self.log.connection() as conn:
            query = sa.select(t.disruption, sa.null().label("first_notice_at"))
            exact = conn.execute(query.where(t.disruption.c.id == ident)).first()
            if exact is not None:
                return self._row(exact)
            found: Sequence[Any] = []
            if len(ident) >= 6:
                found = conn.execute(
                    query.where(t.disruption.c.id.startswith(ident, autoescape=True)).limit(2)
                ).all()
        if len(found) == 1:
            return self._row(found[0])
        if len(found) > 1:
            raise CxplayError(f"disruption id {echo(ident)} is ambiguous: give more of it")
        raise CxplayError(
            f"no disruption {echo(ident)} in the log {self.log.where} "
            "(`cxplay disruptions list` shows them)"
        )

    def members(self, ident: str) -> list[MemberRow]:
        """The members of a disruption, in event-time order."""
        with self.log.connection() as conn:
            rows = conn.execute(
                sa.select(t.disruption_member)
                .where(t.disruption_member.c.disruption_id == ident)
                .order_by(t.disruption_member.c.occurred_at, t.disruption_member.c.incident_id)
            ).all()
        return [
            MemberRow(
                r.disruption_id,
                r.incident_id,
                r.customer_id,
                r.occurred_at,
                r.late,
                dict(r.incident),
                r.notice_at,
                r.resolution_at,
            )
            for r in rows
        ]

    def resolve(self, ident: str) -> tuple[DisruptionRow, list[MemberRow]]:
        """Mark a disruption resolved; its members still without a resolution notice.

        Resolving twice is allowed: the second time only members that have not had the
        resolution notice yet (those attached late) are returned.
        """
        row = self.find(ident)
        now = _now()
        with self.log._write() as conn:
            conn.execute(
                t.disruption.update()
                .where(t.disruption.c.id == row.id, t.disruption.c.status == "open")
                .values(status="resolved", resolved_at=now)
            )
        pending = [m for m in self.members(row.id) if m.resolution_at is None]
        return self.find(row.id), pending

    def resolution_sent(self, ident: str, incident_ids: Sequence[str]) -> None:
        """Record that these members had their resolution notice."""
        if not incident_ids:
            return
        with self.log._write() as conn:
            conn.execute(
                t.disruption_member.update()
                .where(
                    t.disruption_member.c.disruption_id == ident,
                    t.disruption_member.c.incident_id.in_(list(incident_ids)),
                )
                .values(resolution_at=_now())
            )


def _aware(value: Any) -> datetime | None:
    """A time from an aggregate (SQLite's MIN() of a datetime column is plain text), in UTC."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def masked_state(state: dict[str, Any], mask: Sequence[str]) -> dict[str, Any]:
    """A correlator snapshot whose waiting incidents are masked like the log's decisions."""
    for item in state.get("keys", []):
        item["pending"] = [
            [at, seq, member, mask_incident(p, mask) if isinstance(p, dict) else p]
            for at, seq, member, p in item["pending"]
        ]
    return state


def forget_customer(conn: sa.Connection, customer_id: str) -> int:
    """Erase what names a customer from disruptions and watcher state (``log forget``).

    Members keep their place in a disruption (the counts stay) without the customer's id,
    name or free text; an incident of theirs still waiting in a window loses them too.
    Returns how many members were affected.
    """
    rows = conn.execute(
        sa.select(
            t.disruption_member.c.disruption_id,
            t.disruption_member.c.incident_id,
            t.disruption_member.c.incident,
        ).where(t.disruption_member.c.customer_id == customer_id)
    ).all()
    for row in rows:
        conn.execute(
            t.disruption_member.update()
            .where(
                t.disruption_member.c.disruption_id == row.disruption_id,
                t.disruption_member.c.incident_id == row.incident_id,
            )
            .values(customer_id=None, incident=forget_incident(row.incident))
        )
    for name, state in conn.execute(sa.select(t.watch_state.c.name, t.watch_state.c.state)).all():
        changed = False
        for item in state.get("keys", []):
            for entry in item["pending"]:
                payload = entry[3]
                if (
                    isinstance(payload, dict)
                    and (payload.get("customer") or {}).get("id") == customer_id
                ):
                    entry[3] = forget_incident(payload)
                    changed = True
        if changed:
            conn.execute(
                t.watch_state.update().where(t.watch_state.c.name == name).values(state=state)
            )
    return len(rows)
