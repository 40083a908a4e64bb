"""Objections to a lot's tender documents (异议, 招标投标法实施条例 第二十二条).

Filed by any bidder at least 10 days before the bid deadline; the lot is suspended from filing
until no objection of it awaits a reply, and the organiser owes a reply within 3 days.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.trading.audit import emit
from services.trading.lots import service as lots
from services.trading.lots.models import Lot
from services.trading.notices import rules
from services.trading.notices.models import Objection
from services.trading.notices.schemas import ObjectionCreate, ObjectionReply
from services.trading.notices.service import ensure_organiser, published_notice_of
from services.trading.projects.models import Project
from shared.auth import Principal
from shared.db import db_now
from shared.errors import Conflict, Forbidden, NotFound


def file(session: Session, principal: Principal, lot_id: uuid.UUID, data: ObjectionCreate) -> tuple[Objection, Lot]:
    if principal.org is None:
        raise Forbidden("提出异议须以投标单位身份登录", code="no_organisation")
    # Bidders cannot read lots directly; what they can object to is what a published notice shows.
    found = session.get(Lot, lot_id)
    if found is None or published_notice_of(session, found.id) is None:
        raise NotFound("标段不存在")
    lot = lots.lock(session, found.id)
    project = session.get(Project, lot.project_id)
    assert project is not None  # noqa: S101 - foreign key
    now = db_now(session)
    rules.check_objection_in_time(filed_at=now, bid_deadline=lot.bid_deadline)
    objection = Objection(
        lot_id=lot.id,
        objector_org=principal.org,
        objector=principal.subject,
        body=data.body,
        status="pending",
        filed_at=now,
        reply_due_at=rules.reply_due(now),
    )
    session.add(objection)
    session.flush()
    emit(
        session,
        principal=principal,
        action="objection.filed",
        object_type="objection",
        object_id=str(objection.id),
        platform=project.platform,
        project_id=str(project.id),
        lot_id=str(lot.id),
        change={"body": data.body, "filed_at": now.isoformat(), "reply_due_at": objection.reply_due_at.isoformat()},
    )
    lots.hold(session, principal, lot, project, f"objection:{objection.id}", "对招标文件的异议待答复")
    return objection, lot


def reply(
    session: Session, principal: Principal, objection_id: uuid.UUID, data: ObjectionReply
) -> tuple[Objection, Lot]:
    """Answer an objection; the lot resumes when none of its objections is left unanswered."""
    objection = session.get(Objection, objection_id)
    if objection is None:
        raise NotFound("异议不存在")
    try:
        lot, project = lots.get(session, principal, objection.lot_id)
    except NotFound:
        raise NotFound("异议不存在") from None
    ensure_organiser(principal, project)
    lot = lots.lock(session, lot.id)  # every status change of the lot's objections goes through this lock
    session.refresh(objection)
    if objection.status != "pending":
        raise Conflict("该异议已答复", code="objection_already_replied")
    now = db_now(session)
    objection.status = "replied"
    objection.reply = data.reply
    objection.replied_at = now
    objection.replied_by = principal.subject
    session.flush()
    emit(
        session,
        principal=principal,
        action="objection.replied",
        object_type="objection",
        object_id=str(objection.id),
        platform=project.platform,
        project_id=str(project.id),
        lot_id=str(lot.id),
        change={"reply": data.reply, "replied_at": now.isoformat(), "overdue": now > objection.reply_due_at},
    )
    lots.release(session, principal, lot, project, f"objection:{objection.id}")
    return objection, lot


def own(session: Session, principal: Principal, *, limit: int, offset: int) -> list[tuple[Objection, Lot]]:
    if principal.org is None:
        raise Forbidden("须以投标单位身份登录", code="no_organisation")
    query = (
        select(Objection, Lot)
        .join(Lot, Lot.id == Objection.lot_id)
        .where(Objection.objector_org == principal.org)
        .order_by(Objection.filed_at.desc(), Objection.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [(o, lot) for o, lot in session.execute(query).tuples()]


def of_lot(session: Session, principal: Principal, lot_id: uuid.UUID) -> tuple[Lot, list[Objection]]:
    lot, _ = lots.get(session, principal, lot_id)
    query = select(Objection).where(Objection.lot_id == lot.id).order_by(Objection.filed_at, Objection.id)
    return lot, list(session.scalars(query))


def reveals_objector(principal: Principal, objection: Objection, lot: Lot, now: datetime) -> bool:
    """An objector is a potential bidder; before the deadline only it may see that it objected
    (电子招标投标办法 第二十一条). Replies go through the platform, so nobody needs the name sooner."""
    return principal.org == objection.objector_org or now >= lot.bid_deadline
