"""Filing, answering and deciding complaints; every state change audited in its own transaction."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from services.supervision.audit import emit
from services.supervision.complaints.models import Complaint
from services.supervision.complaints.rules import Filing, accept_due, check_filing, decide_due
from services.supervision.complaints.schemas import ComplaintCreate, Decision
from shared.auth import Principal, ensure_platform_access
from shared.contracts.trading import LotSummary
from shared.db import db_now, db_today
from shared.errors import Conflict, Forbidden, NotFound, Unprocessable
from shared.workdays import default_calendar

COMPLAINT_LAWS = ("bidding_law", "government_procurement")


def _emit(session: Session, principal: Principal, complaint: Complaint, action: str, change: dict[str, object]) -> None:
    emit(
        session,
        principal=principal,
        action=action,
        object_type="complaint",
        object_id=str(complaint.id),
        platform=complaint.platform,
        project_id=str(complaint.project_id),
        lot_id=str(complaint.lot_id),
        change=change,
    )


def file(session: Session, principal: Principal, data: ComplaintCreate, lot: LotSummary) -> Complaint:
    if principal.org is None:
        raise Forbidden("投诉人须以所在单位身份投诉", code="no_organisation")
    if lot.law not in COMPLAINT_LAWS:
        raise Unprocessable(
            "该类交易的投诉不适用招标投标法或政府采购法的投诉程序",
            code="complaint_law_not_supported",
            details={"law": lot.law},
        )
    today = db_today(session)
    calendar = default_calendar()
    violations = check_filing(
        Filing(lot.law, data.matter, data.knew_on, today, data.objection_filed_on, data.objection_replied_on), calendar
    )
    if violations:
        raise Unprocessable(
            "投诉不符合法定条件：" + "；".join(v.message for v in violations),
            code="complaint_rule_violated",
            details={"violations": [v.as_dict() for v in violations]},
        )
    complaint = Complaint(
        platform=lot.platform,
        lot_id=lot.id,
        project_id=lot.project_id,
        law=lot.law,
        matter=data.matter,
        complainant_org=principal.org,
        complainant=principal.subject,
        facts=data.facts,
        request=data.request,
        knew_on=data.knew_on,
        objection_ref=data.objection_ref,
        objection_filed_on=data.objection_filed_on,
        objection_replied_on=data.objection_replied_on,
        filed_on=today,
        accept_due_on=accept_due(today, calendar),
        status="filed",
    )
    session.add(complaint)
    session.flush()
    _emit(
        session,
        principal,
        complaint,
        "complaint.filed",
        {**data.model_dump(mode="json"), "accept_due_on": complaint.accept_due_on.isoformat()},
    )
    return complaint


def get(session: Session, principal: Principal, complaint_id: uuid.UUID) -> Complaint:
    """Supervisors of the lot's platform, and the complainant's organisation, may read it."""
    complaint = session.get(Complaint, complaint_id)
    if complaint is None:
        raise NotFound("投诉不存在")
    if principal.has_role("supervisor"):
        ensure_platform_access(principal, complaint.platform, what="投诉")
        return complaint
    if principal.org is not None and principal.org == complaint.complainant_org:
        return complaint
    raise NotFound("投诉不存在")


def _for_supervisor(session: Session, principal: Principal, complaint_id: uuid.UUID, *, status: str) -> Complaint:
    complaint = get(session, principal, complaint_id)
    session.refresh(complaint, with_for_update=True)
    if complaint.status != status:
        raise Conflict(
            f"投诉当前状态为 {complaint.status}，不能执行此操作",
            code="complaint_wrong_status",
            details={"status": complaint.status, "required": status},
        )
    return complaint


def accept(session: Session, principal: Principal, complaint_id: uuid.UUID) -> Complaint:
    complaint = _for_supervisor(session, principal, complaint_id, status="filed")
    today = db_today(session)
    complaint.status = "accepted"
    complaint.answered_at = db_now(session)
    complaint.answered_by = principal.subject
    complaint.decide_due_on = decide_due(today, default_calendar())
    _emit(session, principal, complaint, "complaint.accepted", {"decide_due_on": complaint.decide_due_on.isoformat()})
    return complaint


def refuse(session: Session, principal: Principal, complaint_id: uuid.UUID, reason: str) -> Complaint:
    complaint = _for_supervisor(session, principal, complaint_id, status="filed")
    complaint.status = "refused"
    complaint.answered_at = db_now(session)
    complaint.answered_by = principal.subject
    complaint.refusal_reason = reason
    _emit(session, principal, complaint, "complaint.refused", {"reason": reason})
    return complaint


def decide(session: Session, principal: Principal, complaint_id: uuid.UUID, data: Decision) -> Complaint:
    complaint = _for_supervisor(session, principal, complaint_id, status="accepted")
    complaint.status = "decided"
    complaint.decision = data.decision
    complaint.decision_reasons = data.reasons
    complaint.decided_at = db_now(session)
    _emit(session, principal, complaint, "complaint.decided", data.model_dump())
    return complaint


def publish(session: Session, principal: Principal, complaint_id: uuid.UUID) -> Complaint:
    complaint = _for_supervisor(session, principal, complaint_id, status="decided")
    if complaint.published_at is not None:
        raise Conflict("处理决定已公告", code="complaint_already_published")
    complaint.published_at = db_now(session)
    _emit(session, principal, complaint, "complaint.decision_published", {})
    return complaint


def check_may_manage(session: Session, principal: Principal, complaint_id: uuid.UUID) -> Complaint:
    """Read-only check before calling trading, so no transaction is held across that call."""
    complaint = get(session, principal, complaint_id)
    if not principal.has_role("supervisor"):
        raise NotFound("投诉不存在")
    if complaint.status not in ("filed", "accepted"):
        raise Conflict(
            "投诉已处理完毕，不能再暂停或恢复标段", code="complaint_wrong_status", details={"status": complaint.status}
        )
    return complaint


def record_lot_suspension(
    session: Session, principal: Principal, complaint_id: uuid.UUID, *, suspended: bool, reason: str | None
) -> Complaint:
    complaint = get(session, principal, complaint_id)
    complaint.lot_suspended = suspended
    _emit(
        session,
        principal,
        complaint,
        "complaint.lot_suspended" if suspended else "complaint.lot_resumed",
        {"reason": reason},
    )
    return complaint


def is_overdue(complaint: Complaint, today: date) -> bool:
    if complaint.status == "filed":
        return today > complaint.accept_due_on
    if complaint.status == "accepted" and complaint.decide_due_on is not None:
        return today > complaint.decide_due_on
    return False


def for_supervisors(
    session: Session,
    principal: Principal,
    *,
    status: str | None,
    overdue: bool | None,
    limit: int,
    after: uuid.UUID | None,
) -> list[Complaint]:
    query = select(Complaint).order_by(Complaint.id).limit(limit)
    if after is not None:
        query = query.where(Complaint.id > after)
    if not principal.is_city:
        query = query.where(Complaint.platform == principal.platform)
    if status is not None:
        query = query.where(Complaint.status == status)
    if overdue is not None:
        today = db_today(session)
        late = or_(
            (Complaint.status == "filed") & (Complaint.accept_due_on < today),
            (Complaint.status == "accepted") & (Complaint.decide_due_on < today),
        )
        query = query.where(late if overdue else ~late)
    return list(session.scalars(query))


def of_organisation(session: Session, principal: Principal) -> list[Complaint]:
    if principal.org is None:
        return []
    return list(
        session.scalars(
            select(Complaint).where(Complaint.complainant_org == principal.org).order_by(Complaint.filed_at)
        )
    )


def published(session: Session, platform: str | None, limit: int) -> list[Complaint]:
    query = select(Complaint).where(Complaint.published_at.is_not(None)).order_by(Complaint.published_at.desc())
    if platform is not None:
        query = query.where(Complaint.platform == platform)
    return list(session.scalars(query.limit(limit)))
