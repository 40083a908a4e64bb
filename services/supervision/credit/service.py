"""Recording, publishing and revoking bad-behaviour records, and the supervisors' and public reads.

Each state change adds its audit event to the same transaction (the request's one commit).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from services.supervision.audit import emit
from services.supervision.credit.ban_period import check_government_procurement_ban
from services.supervision.credit.models import CreditRecord
from services.supervision.credit.schemas import CreditRecordCreate, CreditRecordFilter, PublicCreditQuery
from shared.auth import Principal, ensure_platform_access
from shared.db import db_now, db_today
from shared.errors import Conflict, NotFound, Unprocessable

OBJECT_TYPE = "credit_record"


def ban_in_force_on(day: date) -> ColumnElement[bool]:
    """SQL twin of :func:`ban_period.in_force` for records not revoked: the ban covers ``day``."""
    return and_(
        CreditRecord.revoked_at.is_(None),
        CreditRecord.ban_start <= day,
        or_(CreditRecord.ban_end.is_(None), CreditRecord.ban_end >= day),
    )


def create_record(session: Session, principal: Principal, data: CreditRecordCreate) -> CreditRecord:
    if data.decided_on > db_today(session):
        raise Unprocessable("处理决定日期不能晚于今天", code="decision_in_future")
    if data.law == "government_procurement" and data.ban_start is not None:
        check_government_procurement_ban(data.ban_start, data.ban_end)
    record = CreditRecord(platform=principal.platform, created_by=principal.subject, **data.model_dump())
    session.add(record)
    session.flush()
    emit(
        session,
        principal=principal,
        action="credit_record.created",
        object_type=OBJECT_TYPE,
        object_id=str(record.id),
        platform=record.platform,
        change=data.model_dump(mode="json"),
    )
    return record


def visible_record(session: Session, principal: Principal, record_id: int, *, for_update: bool = False) -> CreditRecord:
    """The record if the supervisor may see it; another county's record looks absent (404)."""
    record = session.get(CreditRecord, record_id, with_for_update=for_update)
    if record is None:
        raise NotFound("不良行为记录不存在")
    ensure_platform_access(principal, record.platform, what="不良行为记录")
    return record


def publish_record(session: Session, principal: Principal, record_id: int) -> CreditRecord:
    # The row lock makes a concurrent publish or revoke wait and then see this one's result.
    record = visible_record(session, principal, record_id, for_update=True)
    if record.revoked:
        raise Conflict("该记录已撤销，不能公开", code="credit_record_revoked")
    if record.published:
        raise Conflict("该记录已公开", code="credit_record_already_published")
    record.published = True
    record.published_at = db_now(session)
    session.flush()
    emit(
        session,
        principal=principal,
        action="credit_record.published",
        object_type=OBJECT_TYPE,
        object_id=str(record.id),
        platform=record.platform,
        change={"published_at": record.published_at.isoformat()},
    )
    return record


def revoke_record(session: Session, principal: Principal, record_id: int, reason: str) -> CreditRecord:
    record = visible_record(session, principal, record_id, for_update=True)
    if record.revoked:
        raise Conflict("该记录已撤销", code="credit_record_already_revoked")
    revoked_at = db_now(session)
    record.revoked_at = revoked_at
    record.revoke_reason = reason
    session.flush()
    emit(
        session,
        principal=principal,
        action="credit_record.revoked",
        object_type=OBJECT_TYPE,
        object_id=str(record.id),
        platform=record.platform,
        change={"reason": reason, "revoked_at": revoked_at.isoformat()},
    )
    return record


def list_records(session: Session, principal: Principal, filters: CreditRecordFilter) -> list[CreditRecord]:
    query = select(CreditRecord).where(CreditRecord.id > filters.after)
    if not principal.is_city:
        query = query.where(CreditRecord.platform == principal.platform)
    if filters.platform is not None:
        query = query.where(CreditRecord.platform == filters.platform)
    if filters.subject_id is not None:
        query = query.where(CreditRecord.subject_id == filters.subject_id)
    if filters.active_on is not None:
        query = query.where(ban_in_force_on(filters.active_on))
    return list(session.scalars(query.order_by(CreditRecord.id).limit(filters.limit)))


def public_records(session: Session, query: PublicCreditQuery) -> list[CreditRecord]:
    """Published records not revoked, of every platform: publication is what makes them public."""
    statement = (
        select(CreditRecord)
        .where(
            CreditRecord.subject_id == query.subject_id,
            CreditRecord.published.is_(True),
            CreditRecord.revoked_at.is_(None),
            CreditRecord.id > query.after,
        )
        .order_by(CreditRecord.id)
        .limit(query.limit)
    )
    return list(session.scalars(statement))
