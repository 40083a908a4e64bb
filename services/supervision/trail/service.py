"""Searching the stored audit events: who may see what, which index answers, cursor pages.

Every page is ``<filters> and id > :cursor order by id limit :n + 1``: each filter column has an
index ending in ``id`` (migration s0004), so a page costs the same on the first day and after ten
years. Time windows are the one filter that is not an equality; they are turned into an id range
first (see :func:`_window_ids`), after which they cost no more than the others.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, func, literal, literal_column, select, text, true, tuple_
from sqlalchemy.orm import Session

from services.supervision.ingest.models import StoredEvent
from services.supervision.trail.schemas import (
    LOCAL_TZ,
    EventFilters,
    EventLinks,
    EventOut,
    TimelineEntry,
    TimelineLinks,
    What,
    When,
    Where,
    Who,
)
from shared.auth import Principal, ensure_platform_access
from shared.errors import NotFound, Unprocessable

T = TypeVar("T", bound=tuple[Any, ...])

# Filters whose every value has a bounded number of events (one project, one user, one object...),
# so scanning that value's index entries is cheap whatever else the query asks.
NARROW_FILTERS = ("project_id", "lot_id", "organisation", "actor", "object_id")
EQUALITY_FILTERS = ("project_id", "lot_id", "organisation", "actor", "action", "source", "object_type", "object_id")

# Exactly the expression of ix_audit_events_occurred_day, written with literals (not bound
# parameters) so that the planner recognises the index.
OCCURRED_DAY = func.date_trunc(literal_column("'day'"), StoredEvent.occurred_at, literal_column("'UTC'"))
# Not '1 day': timestamptz + '1 day' follows the session time zone's DST rules, 24 hours does not.
ONE_DAY: ColumnElement[timedelta] = literal_column("interval '24 hours'")


@dataclass(frozen=True)
class Search:
    """A validated search, already confined to what the principal may see.

    ``floor`` and ``ceiling`` bound the ids that can match at all (exclusive, inclusive): they come
    from the time window and never exclude a matching event; they only spare the scan the rest.
    """

    conditions: tuple[ColumnElement[bool], ...]
    floor: int = 0
    ceiling: int | None = None

    @property
    def empty(self) -> bool:
        return self.ceiling is not None and self.ceiling <= self.floor


def visible_platform(principal: Principal, requested: str | None) -> str | None:
    """The platform a search is confined to: a county supervisor's own, whatever it asked for."""
    return requested if principal.is_city else principal.platform


def plan_for_these_values(session: Session) -> None:
    """Have PostgreSQL plan each trail query for its actual values, in this transaction.

    psycopg prepares a statement once it has run five times on a connection, and PostgreSQL then
    may switch to a generic plan made without the values. Here the values decide everything: with
    ``platform = $1 and action = $2`` the generic plan walks the primary key and filters (38,000
    rows read for one page of 101 at a million events), where the plan for ``'gaoping'`` and
    ``'award.announced'`` reads just that index's entries.
    """
    session.execute(text("set local plan_cache_mode = force_custom_plan"))


def search(session: Session, principal: Principal, filters: EventFilters) -> Search:
    conditions: list[ColumnElement[bool]] = []
    platform = visible_platform(principal, filters.platform)
    if platform is not None:
        conditions.append(StoredEvent.platform == platform)
    for name in EQUALITY_FILTERS:
        value = getattr(filters, name)
        if value is not None:
            conditions.append(getattr(StoredEvent, name) == value)
    if filters.since is not None:
        conditions.append(StoredEvent.occurred_at >= filters.since)
    if filters.until is not None:
        conditions.append(StoredEvent.occurred_at < filters.until)
    found = Search(tuple(conditions))
    narrow = any(getattr(filters, name) is not None for name in NARROW_FILTERS)
    if (filters.since is not None or filters.until is not None) and not narrow:
        floor, ceiling = _window_ids(session, filters.since, filters.until)
        found = replace(found, floor=floor, ceiling=ceiling)
    return found


def page(session: Session, found: Search, *, after: int, limit: int) -> tuple[list[StoredEvent], int | None]:
    """Up to ``limit`` events with ids above ``after``, and the cursor of the next page if there is one."""
    if found.empty:
        return [], None
    plan_for_these_values(session)
    # One row more than asked says whether another page exists, so the last page never needs a
    # further, empty request to find out.
    rows = list(session.scalars(paged(select(StoredEvent), found, after=after, limit=limit + 1)))
    if len(rows) > limit:
        return rows[:limit], rows[limit - 1].id
    return rows, None


def paged(query: Select[T], found: Search, *, after: int, limit: int) -> Select[T]:
    """``query`` restricted to the search, from ``after`` on, in id order, at most ``limit`` rows."""
    query = query.where(*found.conditions, StoredEvent.id > max(after, found.floor))
    if found.ceiling is not None:
        query = query.where(StoredEvent.id <= found.ceiling)
    return query.order_by(StoredEvent.id).limit(limit)


def up_to_now(session: Session, found: Search) -> Search:
    """The same search, ending at the newest event stored now: an export is a fixed set of rows."""
    newest = session.scalar(select(func.max(StoredEvent.id))) or 0
    ceiling = newest if found.ceiling is None else min(found.ceiling, newest)
    return replace(found, ceiling=ceiling)


def _window_ids(session: Session, since: datetime | None, until: datetime | None) -> tuple[int, int | None]:
    """The (floor, ceiling) of the ids of events that occurred in ``[since, until)``.

    Ids follow arrival, which follows occurrence closely but not exactly (a relay may deliver hours
    late), so no index can hand out "the first id after 09:00" directly. The day index can: within
    one day's entries ids are in order, so the first (last) matching id of each day the window spans
    is one index probe, and the smallest (largest) of those is exact. The cost is a probe per day of
    the window (a window open at its start spans the ledger's history up to ``until``) and nothing
    per event: a day or a month costs the same at a million events and at ten million.
    """
    plan_for_these_values(session)
    first_day, last_day = session.execute(select(func.min(OCCURRED_DAY), func.max(OCCURRED_DAY))).one()
    if first_day is None:
        return 0, 0
    low = first_day if since is None else max(first_day, _day(since))
    high = last_day if until is None else min(last_day, _day(until))
    if low > high:
        return 0, 0
    window = [StoredEvent.occurred_at >= since] if since is not None else []
    if until is not None:
        window.append(StoredEvent.occurred_at < until)
    floor, ceiling = 0, None
    if since is not None and since > first_day:  # else every event is late enough
        first = _probe(session, low, high, window, first=True)
        if first is None:
            return 0, 0
        floor = first - 1
    if until is not None and until < last_day + timedelta(days=1):  # else every event is early enough
        ceiling = _probe(session, low, high, window, first=False) or 0
    return floor, ceiling


def _probe(
    session: Session, low: datetime, high: datetime, window: Sequence[ColumnElement[bool]], *, first: bool
) -> int | None:
    days = func.generate_series(low, high, ONE_DAY).table_valued("day").render_derived()
    order = StoredEvent.id if first else StoredEvent.id.desc()
    edge = select(StoredEvent.id).where(days.c.day == OCCURRED_DAY, *window).order_by(order).limit(1).lateral()
    pick = func.min if first else func.max
    edge_id: int | None = session.scalar(select(pick(edge.c.id)).select_from(days).join(edge, true()))
    return edge_id


def _day(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def get_event(session: Session, principal: Principal, event_id: uuid.UUID) -> StoredEvent:
    event = session.scalars(select(StoredEvent).where(StoredEvent.event_id == event_id)).first()
    if event is None:
        raise NotFound("事件不存在")
    ensure_platform_access(principal, event.platform or "", what="事件")
    return event


def timeline(
    session: Session, principal: Principal, project_id: str, *, after: int, limit: int
) -> tuple[list[StoredEvent], int | None]:
    """A project's events in the order they occurred (ties by id), paged by the last id shown.

    A county supervisor sees the project's events on its own platform; with none there, the project
    answers 404 exactly as an unknown one does.
    """
    plan_for_these_values(session)
    scope = [StoredEvent.project_id == project_id]
    platform = visible_platform(principal, None)
    if platform is not None:
        scope.append(StoredEvent.platform == platform)
    query = select(StoredEvent).where(*scope)
    if after:
        # The cursor is an id, as everywhere in the trail; its position in the timeline is where it
        # occurred. It must be one of the events this caller can see in this timeline.
        mark = session.scalar(select(StoredEvent.occurred_at).where(StoredEvent.id == after, *scope))
        if mark is None:
            raise Unprocessable(
                "请求参数不合法",
                code="validation_error",
                details=[{"loc": ["query", "after"], "type": "invalid_cursor", "msg": "not a cursor of this timeline"}],
            )
        query = query.where(tuple_(StoredEvent.occurred_at, StoredEvent.id) > tuple_(literal(mark), literal(after)))
    rows = list(session.scalars(query.order_by(StoredEvent.occurred_at, StoredEvent.id).limit(limit + 1)))
    if not rows and not after:
        raise NotFound("项目不存在")
    if len(rows) > limit:
        return rows[:limit], rows[limit - 1].id
    return rows, None


def inclusion_proof_path(event_id: uuid.UUID) -> str:
    """Where the ledger serves the event's inclusion proof (GET, relative to this service)."""
    return f"/ledger/events/{event_id}/inclusion-proof"


def event_out(e: StoredEvent) -> EventOut:
    return EventOut(
        id=e.id,
        event_id=e.event_id,
        source=e.source,
        delivery_seq=e.delivery_seq,
        occurred_at=e.occurred_at.astimezone(UTC),
        received_at=e.received_at.astimezone(UTC),
        actor=e.actor,
        actor_role=e.actor_role,
        organisation=e.organisation,
        platform=e.platform,
        action=e.action,
        object_type=e.object_type,
        object_id=e.object_id,
        project_id=e.project_id,
        lot_id=e.lot_id,
        change=e.change,
        digest=e.digest,
        client_ip=e.client_ip,
        user_agent=e.user_agent,
        device_fingerprint=e.device_fingerprint,
        request_id=e.request_id,
        links=EventLinks(inclusion_proof=inclusion_proof_path(e.event_id)),
    )


def timeline_entry(e: StoredEvent) -> TimelineEntry:
    return TimelineEntry(
        id=e.id,
        event_id=e.event_id,
        who=Who(actor=e.actor, role=e.actor_role, organisation=e.organisation),
        what=What(action=e.action, object_type=e.object_type, object_id=e.object_id, lot_id=e.lot_id),
        when=When(occurred_at=e.occurred_at.astimezone(UTC), occurred_at_local=e.occurred_at.astimezone(LOCAL_TZ)),
        where=Where(client_ip=e.client_ip, device_fingerprint=e.device_fingerprint, user_agent=e.user_agent),
        request_id=e.request_id,
        source=e.source,
        platform=e.platform,
        links=TimelineLinks(inclusion_proof=inclusion_proof_path(e.event_id), event=f"/audit/events/{e.event_id}"),
    )
