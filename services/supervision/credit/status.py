"""The credit status derived from bad-behaviour records, as trading and the expert pool ask for it.

Reads across every platform: a ban decided anywhere in Jincheng applies on every platform (市县一体).
Unpublished records count too: a ban takes effect by its decision, publication only makes it
public. Revoked records count for nothing, on any date.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date

from sqlalchemy import and_, select, tuple_
from sqlalchemy.orm import Session

from services.supervision.credit.ban_period import in_force
from services.supervision.credit.models import CreditRecord
from shared.contracts.credit import ActiveCreditRecord, CreditStatus, CreditSubject, SubjectKind
from shared.db import TODAY_IN_JINCHENG


def credit_statuses(
    session: Session, subjects: Sequence[CreditSubject], on: date | None
) -> tuple[date, list[CreditStatus]]:
    """The day judged and one status per subject, in the order asked (repeats answered again).

    ``on`` None is today in Asia/Shanghai by the database clock, read by the statement that reads
    the records: one round trip per question. (Trading asks for every bid of a deadline surge, and
    the date's own query cost supervision as much as the records'.)"""
    keys = sorted({(s.subject_kind, s.subject_id) for s in subjects})
    asked = select(TODAY_IN_JINCHENG.label("today")).subquery("asked")
    matching = and_(
        tuple_(CreditRecord.subject_kind, CreditRecord.subject_id).in_(keys), CreditRecord.revoked_at.is_(None)
    )
    # One row for the date even when no record matches (the outer join keeps it).
    statement = (
        select(asked.c.today, CreditRecord)
        .select_from(asked)
        .outerjoin(CreditRecord, matching)
        .order_by(CreditRecord.ban_start, CreditRecord.id)
    )
    rows = session.execute(statement).tuples().all()
    records: dict[tuple[str, str], list[CreditRecord]] = defaultdict(list)
    for _, record in rows:
        if record is not None:
            records[(record.subject_kind, record.subject_id)].append(record)
    day = on if on is not None else rows[0][0]  # at least one row: the date's
    return day, [_status(s.subject_kind, s.subject_id, records[(s.subject_kind, s.subject_id)], day) for s in subjects]


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
