"""Responses assembled from several tables. Nothing here reads the download record: no view can
leak who or how many obtained the documents."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.trading.documents import service as documents
from services.trading.documents.models import Document
from services.trading.documents.schemas import document_out
from services.trading.lots.models import Lot
from services.trading.notices import rules
from services.trading.notices.models import Clarification, Notice, NoticeLot, Notification, Objection
from services.trading.notices.objections import reveals_objector
from services.trading.notices.schemas import (
    ClarificationOut,
    NoticeLotOut,
    NoticeOut,
    NoticeSummary,
    NotificationOut,
    ObjectionOut,
)
from services.trading.projects.models import Project
from shared.auth import Principal


def _lot_out(lot: Lot) -> NoticeLotOut:
    return NoticeLotOut(
        id=lot.id,
        lot_no=lot.lot_no,
        name=lot.name,
        documents_from=lot.documents_from,
        documents_until=lot.documents_until,
        bid_deadline=lot.bid_deadline,
        status=lot.status,
    )


def _lots_by_notice(session: Session, notice_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Lot]]:
    found: dict[uuid.UUID, list[Lot]] = {i: [] for i in notice_ids}
    query = (
        select(NoticeLot.notice_id, Lot)
        .join(Lot, Lot.id == NoticeLot.lot_id)
        .where(NoticeLot.notice_id.in_(notice_ids))
        .order_by(Lot.lot_no)
    )
    for notice_id, lot in session.execute(query).tuples():
        found[notice_id].append(lot)
    return found


def _summary(notice: Notice, project: Project, lots: list[Lot], now: datetime) -> NoticeSummary:
    return NoticeSummary(
        id=notice.id,
        project_id=project.id,
        project_code=project.code,
        project_name=project.name,
        platform=notice.platform,
        category_code=notice.category_code,
        title=notice.title,
        status="published" if notice.status == "published" else "draft",
        tender_status=rules.tender_status([(lot.status, lot.bid_deadline) for lot in lots], now),
        published_at=notice.published_at,
        lots=[_lot_out(lot) for lot in lots],
    )


def summaries(session: Session, notices: list[Notice], now: datetime) -> list[NoticeSummary]:
    ids = [n.id for n in notices]
    lots = _lots_by_notice(session, ids)
    project_ids = {n.project_id for n in notices}
    project_map = {p.id: p for p in session.scalars(select(Project).where(Project.id.in_(project_ids)))}
    return [_summary(n, project_map[n.project_id], lots[n.id], now) for n in notices]


def clarification_out(session: Session, clarification: Clarification) -> ClarificationOut:
    return _clarification_out(clarification, documents.of_clarifications(session, [clarification.id])[clarification.id])


def _clarification_out(c: Clarification, docs: list[Document]) -> ClarificationOut:
    return ClarificationOut(
        id=c.id,
        lot_id=c.lot_id,
        notice_id=c.notice_id,
        body=c.body,
        status="published" if c.status == "published" else "draft",
        created_at=c.created_at,
        issued_at=c.issued_at,
        previous_bid_deadline=c.previous_bid_deadline,
        new_bid_deadline=c.new_bid_deadline,
        documents=[document_out(d) for d in docs],
    )


def notice_out(
    session: Session, notice: Notice, project: Project, clarifications: list[Clarification], now: datetime
) -> NoticeOut:
    summary = summaries(session, [notice], now)[0]
    docs = documents.of_clarifications(session, [c.id for c in clarifications])
    return NoticeOut(
        **summary.model_dump(),
        body=notice.body,
        created_at=notice.created_at,
        documents=[document_out(d) for d in documents.of_notice(session, notice.id)],
        clarifications=[_clarification_out(c, docs[c.id]) for c in clarifications],
    )


def objection_out(principal: Principal, objection: Objection, lot: Lot, now: datetime) -> ObjectionOut:
    return ObjectionOut(
        id=objection.id,
        lot_id=objection.lot_id,
        project_id=lot.project_id,
        objector_org=objection.objector_org if reveals_objector(principal, objection, lot, now) else None,
        body=objection.body,
        status="replied" if objection.status == "replied" else "pending",
        filed_at=objection.filed_at,
        reply_due_at=objection.reply_due_at,
        overdue=objection.status == "pending" and now > objection.reply_due_at,
        reply=objection.reply,
        replied_at=objection.replied_at,
    )


def notification_out(n: Notification) -> NotificationOut:
    return NotificationOut(
        id=n.id,
        kind="clarification",
        lot_id=n.lot_id,
        notice_id=n.notice_id,
        clarification_id=n.clarification_id,
        message=n.message,
        created_at=n.created_at,
        read_at=n.read_at,
    )
