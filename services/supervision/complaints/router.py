from __future__ import annotations

import uuid
from datetime import date

from fastapi import APIRouter, Depends, Query, Request

from services.supervision.complaints import service
from services.supervision.complaints.models import Complaint
from services.supervision.complaints.schemas import (
    ComplaintCreate,
    ComplaintOut,
    Decision,
    PublishedDecision,
    Refusal,
    SuspensionRequest,
)
from shared.auth import Principal, require
from shared.clients.trading import TradingClient
from shared.db import DbSession, db_today
from shared.platforms import PLATFORMS

router = APIRouter(tags=["complaints"])
complainants = require("bidder", typ="user")
supervisors = require("supervisor", typ="user")
readers = require("bidder", "supervisor", typ="user")


def _trading(request: Request) -> TradingClient:
    client: TradingClient = request.app.state.trading
    return client


def out(c: Complaint, today: date) -> ComplaintOut:
    return ComplaintOut(
        id=c.id,
        platform=c.platform,
        lot_id=c.lot_id,
        project_id=c.project_id,
        law=c.law,
        matter=c.matter,
        complainant_org=c.complainant_org,
        facts=c.facts,
        request=c.request,
        knew_on=c.knew_on,
        objection_ref=c.objection_ref,
        objection_filed_on=c.objection_filed_on,
        objection_replied_on=c.objection_replied_on,
        filed_at=c.filed_at,
        status=c.status,
        accept_due_on=c.accept_due_on,
        decide_due_on=c.decide_due_on,
        overdue=service.is_overdue(c, today),
        refusal_reason=c.refusal_reason,
        decision=c.decision,
        decision_reasons=c.decision_reasons,
        decided_at=c.decided_at,
        published_at=c.published_at,
        lot_suspended=c.lot_suspended,
    )


@router.post("/complaints", status_code=201, response_model=ComplaintOut)
def file_complaint(
    body: ComplaintCreate, request: Request, session: DbSession, principal: Principal = Depends(complainants)
) -> ComplaintOut:
    """File a complaint (投诉) against a lot, as a bidder for your organisation. The law's limits are
    checked on the working-day calendar: 招标投标法实施条例 第六十条 (10 days; objection first for
    tender documents, opening and results, its answering time not counted) and 政府采购法 第五十二至五十五条
    (challenge within 7 working days, complaint within 15 working days of the answer). Refusals
    answer 422 ``complaint_rule_violated`` naming each article."""
    # Ask trading before touching our database, so no transaction waits on another service.
    lot = _trading(request).lot_summary(body.lot_id)
    complaint = service.file(session, principal, body, lot)
    return out(complaint, db_today(session))


@router.get("/complaints/mine", response_model=list[ComplaintOut])
def my_complaints(session: DbSession, principal: Principal = Depends(complainants)) -> list[ComplaintOut]:
    """Complaints filed by the caller's organisation, oldest first."""
    today = db_today(session)
    return [out(c, today) for c in service.of_organisation(session, principal)]


@router.get("/complaints/{complaint_id}", response_model=ComplaintOut)
def get_complaint(complaint_id: uuid.UUID, session: DbSession, principal: Principal = Depends(readers)) -> ComplaintOut:
    """One complaint: for supervisors of its platform and for the complainant's organisation."""
    return out(service.get(session, principal, complaint_id), db_today(session))


@router.get("/complaints", response_model=list[ComplaintOut])
def list_complaints(
    session: DbSession,
    principal: Principal = Depends(supervisors),
    status: str | None = Query(None, pattern="^(filed|accepted|refused|decided)$"),
    overdue: bool | None = Query(None, description="only those whose legal answer is late"),
    after: uuid.UUID | None = None,
    limit: int = Query(100, ge=1, le=500),
) -> list[ComplaintOut]:
    """Complaints of the supervisor's platform (all for the city), by id after the ``after`` cursor."""
    today = db_today(session)
    rows = service.for_supervisors(session, principal, status=status, overdue=overdue, limit=limit, after=after)
    return [out(c, today) for c in rows]


@router.post("/complaints/{complaint_id}/accept", response_model=ComplaintOut)
def accept(complaint_id: uuid.UUID, session: DbSession, principal: Principal = Depends(supervisors)) -> ComplaintOut:
    """Accept (受理) a filed complaint; the decision is then due within 30 working days."""
    return out(service.accept(session, principal, complaint_id), db_today(session))


@router.post("/complaints/{complaint_id}/refuse", response_model=ComplaintOut)
def refuse(
    complaint_id: uuid.UUID, body: Refusal, session: DbSession, principal: Principal = Depends(supervisors)
) -> ComplaintOut:
    """Refuse to accept a filed complaint, with the reason."""
    return out(service.refuse(session, principal, complaint_id, body.reason), db_today(session))


@router.post("/complaints/{complaint_id}/decide", response_model=ComplaintOut)
def decide(
    complaint_id: uuid.UUID, body: Decision, session: DbSession, principal: Principal = Depends(supervisors)
) -> ComplaintOut:
    """Record the decision (处理决定) on an accepted complaint, with its reasons."""
    return out(service.decide(session, principal, complaint_id, body), db_today(session))


@router.post("/complaints/{complaint_id}/publish", response_model=ComplaintOut)
def publish(complaint_id: uuid.UUID, session: DbSession, principal: Principal = Depends(supervisors)) -> ComplaintOut:
    """Publish the decision; it then appears on the public list."""
    return out(service.publish(session, principal, complaint_id), db_today(session))


@router.post("/complaints/{complaint_id}/suspend-lot", response_model=ComplaintOut)
def suspend_lot(
    complaint_id: uuid.UUID,
    body: SuspensionRequest,
    request: Request,
    session: DbSession,
    principal: Principal = Depends(supervisors),
) -> ComplaintOut:
    """Suspend the lot in trading while the complaint is handled (暂停招标投标活动): trading refuses
    further steps of the lot until resumed."""
    complaint = service.check_may_manage(session, principal, complaint_id)
    session.commit()  # end the read before calling trading: no transaction held across the call
    _trading(request).suspend_lot(complaint.lot_id, reference=f"complaint:{complaint.id}", reason=body.reason)
    updated = service.record_lot_suspension(session, principal, complaint_id, suspended=True, reason=body.reason)
    return out(updated, db_today(session))


@router.post("/complaints/{complaint_id}/resume-lot", response_model=ComplaintOut)
def resume_lot(
    complaint_id: uuid.UUID, request: Request, session: DbSession, principal: Principal = Depends(supervisors)
) -> ComplaintOut:
    """Lift this complaint's suspension of the lot in trading."""
    complaint = service.check_may_manage(session, principal, complaint_id)
    session.commit()
    _trading(request).resume_lot(complaint.lot_id, reference=f"complaint:{complaint.id}")
    updated = service.record_lot_suspension(session, principal, complaint_id, suspended=False, reason=None)
    return out(updated, db_today(session))


@router.get("/public/complaint-decisions", response_model=list[PublishedDecision], tags=["public"])
def published_decisions(
    session: DbSession,
    platform: str | None = Query(None, pattern="^(" + "|".join(PLATFORMS) + ")$"),
    limit: int = Query(50, ge=1, le=200),
) -> list[PublishedDecision]:
    """Published complaint decisions (public), newest first."""
    return [
        PublishedDecision(
            id=c.id,
            platform=c.platform,
            lot_id=c.lot_id,
            project_id=c.project_id,
            matter=c.matter,
            decision=c.decision or "",
            decision_reasons=c.decision_reasons or "",
            decided_at=c.decided_at,
            published_at=c.published_at,
        )
        for c in service.published(session, platform, limit)
    ]
