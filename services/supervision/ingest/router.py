from __future__ import annotations

from fastapi import APIRouter, Depends

from services.supervision.ingest import service
from shared.auth import Principal, require
from shared.contracts.audit import IngestBatch, IngestResult
from shared.db import DbSession

# Querying what is stored is the trail's job (services/supervision/trail/router.py).
router = APIRouter(tags=["audit"])


@router.post("/ingest/events", response_model=IngestResult)
def ingest_events(
    session: DbSession, batch: IngestBatch, principal: Principal = Depends(require(typ="service"))
) -> IngestResult:
    """Audit events from a service's outbox (service token with scope ``audit:ingest:<source>``).

    Idempotent: an event id already stored is skipped. Sequence numbers must continue the source's
    last one; a gap answers 409 ``sequence_gap`` so that nothing is silently lost."""
    return service.ingest(session, principal, batch)
