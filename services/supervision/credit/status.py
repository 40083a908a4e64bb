"""The credit status derived from bad-behaviour records, as trading and the expert pool ask for it.

Reads across every platform: a ban decided anywhere in Jincheng applies on every platform (市县一体).
Unpublished records count too: a ban takes effect by its decision, publication only makes it
public. Revoked records count for nothing, on any date.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from services.supervision.credit.ban_period import in_force
from services.supervision.credit.models import CreditRecord
from shared.contracts.credit import ActiveCreditRecord, CreditStatus, CreditSubject, SubjectKind


def credit_statuses(session: Session, subjects: Sequence[CreditSubject], on: date) -> list[CreditStatus]:
    """One status per subject, in the order asked (repeats answered again), from one query."""
    keys = sorted({(s.subject_kind, s.subject_id) for s in subjects})
    records: dict[tuple[str, str], list[CreditRecord]] = defaultdict(list)
    statement = (
        select(CreditRecord)
        .where(tuple_(CreditRecord.subject_kind, CreditRecord.subject_id).in_(keys), CreditRecord.revoked_at.is_(None))
        .order_by(CreditRecord.ban_start, CreditRecord.id)
    )
    for record in session.scalars(statement):
        records[(record.subject_kind, record.subject_id)].append(record)
    return [_status(s.subject_kind, s.subject_id, records[(s.subject_kind, s.subject_id)], on) for s in subjects]


def _status(kind: SubjectKind, subject_id: str, records: list[CreditRecord], on: date) -> CreditStatus:
    active = [r for r in records if in_force(r.ban_start, r.ban_end, on)]
    # A record decided after ``on`` did not exist yet on that date, unless its ban already covers it.
    known = bool(active) or any(r.decided_on <= on for r in records)
    return CreditStatus(
        subject_kind=kind,
        subject_id=subject_id,
        on=on,
        status="banned" if active else "clean",
        has_records=known,
        active_records=[_active(r) for r in active],
    )


def _active(record: CreditRecord) -> ActiveCreditRecord:
    return ActiveCreditRecord.model_validate(record, from_attributes=True)
