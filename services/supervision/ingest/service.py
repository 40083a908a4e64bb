"""Store delivered audit events exactly once, in each source's delivery order."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.supervision.ingest.models import StoredEvent
from services.supervision.ledger.append import LEDGER_APPEND_LOCK, append_events
from shared.audit.outbox import change_digest
from shared.auth import Principal
from shared.contracts.audit import AuditEventIn, IngestBatch, IngestResult
from shared.errors import Conflict, Forbidden, Unprocessable


def ingest(session: Session, principal: Principal, batch: IngestBatch) -> IngestResult:
    sources = {e.source for e in batch.events}
    if len(sources) != 1:
        raise Unprocessable("一个批次只能包含一个来源的事件", code="mixed_sources")
    source = sources.pop()
    if f"audit:ingest:{source}" not in principal.scopes:
        raise Forbidden(f"该客户端无权提交 {source} 的审计事件", code="insufficient_scope")
    # One lock for all ingestion, the ledger's own (re-entrant within the transaction): the gap check
    # below sees a stable "last", and audit_events ids are handed out and committed in the same
    # order, so a reader paging by id can never miss an event that commits late.
    session.execute(select(func.pg_advisory_xact_lock(LEDGER_APPEND_LOCK)))
    last = (
        session.scalar(select(func.coalesce(func.max(StoredEvent.delivery_seq), 0)).where(StoredEvent.source == source))
        or 0
    )
    known = {
        row.event_id: row
        for row in session.scalars(
            select(StoredEvent).where(StoredEvent.event_id.in_([e.event_id for e in batch.events]))
        )
    }
    accepted = duplicates = 0
    stored: list[StoredEvent] = []
    for event in sorted(batch.events, key=lambda e: e.delivery_seq):
        _check_digest(event)
        seen = known.get(event.event_id)
        if seen is not None:
            if not _same_event(seen, event):
                raise Conflict(
                    "同一事件编号的内容不一致", code="event_conflict", details={"event_id": str(event.event_id)}
                )
            duplicates += 1
            continue
        if event.delivery_seq != last + 1:
            raise Conflict(
                "事件序号不连续，可能有事件丢失",
                code="sequence_gap",
                details={"source": source, "expected": last + 1, "got": event.delivery_seq},
            )
        row = StoredEvent(**event.model_dump())
        session.add(row)
        stored.append(row)
        last = event.delivery_seq
        accepted += 1
    session.flush()
    # Same transaction: an event is stored if and only if it is in the ledger.
    append_events(session, [row.id for row in stored])
    return IngestResult(accepted=accepted, duplicates=duplicates, last_delivery_seq=last)


def _same_event(stored: StoredEvent, incoming: AuditEventIn) -> bool:
    """A re-delivery must match the stored event field for field; anything else is a rewrite."""
    return all(getattr(stored, name) == value for name, value in incoming.model_dump().items())


def _check_digest(event: AuditEventIn) -> None:
    if change_digest(event.change) != event.digest:
        raise Unprocessable("事件摘要与内容不符", code="digest_mismatch", details={"event_id": str(event.event_id)})
