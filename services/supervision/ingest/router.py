from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select

from services.supervision.ingest import service
from services.supervision.ingest.models import StoredEvent
from shared.auth import Principal, ensure_platform_access, require
from shared.contracts.audit import IngestBatch, IngestResult
from shared.db import BIGINT_MAX, DbSession
from shared.errors import NotFound

router = APIRouter(tags=["audit"])
supervisor = require("supervisor", typ="user")


@router.post("/ingest/events", response_model=IngestResult)
def ingest_events(
    session: DbSession, batch: IngestBatch, principal: Principal = Depends(require(typ="service"))
) -> IngestResult:
    """Audit events from a service's outbox (service token with scope ``audit:ingest:<source>``).

    Idempotent: an event id already stored is skipped. Sequence numbers must continue the source's
    last one; a gap answers 409 ``sequence_gap`` so that nothing is silently lost."""
    return service.ingest(session, principal, batch)


def _out(e: StoredEvent) -> dict[str, Any]:
    return {
        "id": e.id,
        "event_id": str(e.event_id),
        "source": e.source,
        "delivery_seq": e.delivery_seq,
        "occurred_at": e.occurred_at.isoformat(),
        "received_at": e.received_at.isoformat(),
        "actor": e.actor,
        "actor_role": e.actor_role,
        "organisation": e.organisation,
        "platform": e.platform,
        "action": e.action,
        "object_type": e.object_type,
        "object_id": e.object_id,
        "project_id": e.project_id,
        "lot_id": e.lot_id,
        "change": e.change,
        "digest": e.digest,
        "client_ip": e.client_ip,
        "user_agent": e.user_agent,
        "device_fingerprint": e.device_fingerprint,
        "request_id": e.request_id,
    }


@router.get("/audit/events")
def list_events(
    session: DbSession,
    principal: Principal = Depends(supervisor),
    source: str | None = None,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: int = Query(0, ge=0, le=BIGINT_MAX, description="cursor: the last id of the previous page"),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    """Stored audit events, oldest first, with a stable cursor. County supervisors see their
    county's events only; city supervisors see all."""
    query = select(StoredEvent).where(StoredEvent.id > after)
    if not principal.is_city:
        query = query.where(StoredEvent.platform == principal.platform)
    for column, value in (
        (StoredEvent.source, source),
        (StoredEvent.action, action),
        (StoredEvent.object_type, object_type),
        (StoredEvent.object_id, object_id),
        (StoredEvent.actor, actor),
    ):
        if value is not None:
            query = query.where(column == value)
    if since is not None:
        query = query.where(StoredEvent.occurred_at >= since)
    if until is not None:
        query = query.where(StoredEvent.occurred_at < until)
    rows = list(session.scalars(query.order_by(StoredEvent.id).limit(limit)))
    return {"events": [_out(e) for e in rows], "next_after": rows[-1].id if len(rows) == limit else None}


@router.get("/audit/events/{event_id}")
def get_event(session: DbSession, event_id: uuid.UUID, principal: Principal = Depends(supervisor)) -> dict[str, Any]:
    """One stored event by its event id; another county's events answer 404."""
    event = session.scalars(select(StoredEvent).where(StoredEvent.event_id == event_id)).first()
    if event is None:
        raise NotFound("事件不存在")
    ensure_platform_access(principal, event.platform or "", what="事件")
    return _out(event)
