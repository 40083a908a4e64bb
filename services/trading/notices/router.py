from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request

from services.trading.documents.schemas import DocumentOut, document_out
from services.trading.documents.streaming import blob_store, upload_from
from services.trading.notices import objections, service, views
from services.trading.notices.schemas import (
    ClarificationCreate,
    ClarificationOut,
    ClarificationPublish,
    NoticeCreate,
    NoticeOut,
    NoticeSummary,
    NotificationOut,
    ObjectionCreate,
    ObjectionOut,
    ObjectionReply,
)
from services.trading.projects.router import readers, registrars
from shared.auth import Principal, require
from shared.db import BIGINT_MAX, DbSession, db_now
from shared.storage import BlobStore

router = APIRouter()
bidders = require("bidder", typ="user")

# The upload endpoints read the raw body as a stream, so OpenAPI has to be told what it is.
STREAMED_UPLOAD: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "the file's bytes as the raw body (not multipart); its media type in Content-Type",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}
FILENAME = Query(min_length=1, max_length=255, description="the file name shown to bidders, e.g. 招标文件.pdf")


def _notice_out(session: DbSession, principal: Principal, notice_id: uuid.UUID) -> NoticeOut:
    notice, project = service.get(session, principal, notice_id)
    clarifications = service.clarifications_of(
        session, notice.id, include_drafts=service.sees_drafts(principal, project)
    )
    return views.notice_out(session, notice, project, clarifications, db_now(session))


# --- notices -------------------------------------------------------------------------------------


@router.post("/projects/{project_id}/notices", status_code=201, response_model=NoticeOut, tags=["notices"])
def create_notice(
    project_id: uuid.UUID, body: NoticeCreate, session: DbSession, principal: Principal = Depends(registrars)
) -> NoticeOut:
    """Draft a tender notice (招标公告) for one or more lots of a project, as its tenderee or
    agency. Upload its tender documents, then publish it. Drafts are seen only by the organiser and
    trading-centre staff."""
    notice = service.create(session, principal, project_id, body)
    return _notice_out(session, principal, notice.id)


@router.get("/projects/{project_id}/notices", response_model=list[NoticeSummary], tags=["notices"])
def project_notices(
    project_id: uuid.UUID, session: DbSession, principal: Principal = Depends(readers)
) -> list[NoticeSummary]:
    """The notices of a project the caller may see (drafts only for its organiser and staff)."""
    _, notices = service.of_project(session, principal, project_id)
    return views.summaries(session, notices, db_now(session))


@router.get("/notices/{notice_id}", response_model=NoticeOut, tags=["notices"])
def get_notice(notice_id: uuid.UUID, session: DbSession, principal: Principal = Depends(readers)) -> NoticeOut:
    """One notice with its lots, documents and clarifications; drafts of others answer 404."""
    return _notice_out(session, principal, notice_id)


@router.post(
    "/notices/{notice_id}/documents",
    status_code=201,
    response_model=DocumentOut,
    tags=["notices"],
    openapi_extra=STREAMED_UPLOAD,
)
def upload_notice_document(
    notice_id: uuid.UUID,
    request: Request,
    session: DbSession,
    principal: Principal = Depends(registrars),
    store: BlobStore = Depends(blob_store),
    filename: str = FILENAME,
) -> DocumentOut:
    """Attach a tender document to a draft notice. Send the file as the raw request body (it is
    streamed and hashed, never buffered whole); the answer carries its SHA-256 and size. Over
    ``TRADING_MAX_DOCUMENT_BYTES``: 413 ``payload_too_large``. A published notice takes no more
    documents (409 ``notice_published``: issue a clarification instead), nor does a notice with a
    suspended lot (409 ``lot_suspended``)."""
    upload = upload_from(request, filename)
    return document_out(service.upload_document(session, principal, notice_id, upload, store))


@router.post("/notices/{notice_id}/publish", response_model=NoticeOut, tags=["notices"])
def publish_notice(notice_id: uuid.UUID, session: DbSession, principal: Principal = Depends(registrars)) -> NoticeOut:
    """Publish a draft notice: from now on anyone can read it at ``/public/notices`` and bidders can
    download its documents during each lot's documents period. Needs at least one document, lots
    whose deadline is at least 20 days away (for tenders) and not announced by another notice."""
    service.publish(session, principal, notice_id)
    return _notice_out(session, principal, notice_id)


# --- clarifications ------------------------------------------------------------------------------


@router.post("/lots/{lot_id}/clarifications", status_code=201, response_model=ClarificationOut, tags=["clarifications"])
def create_clarification(
    lot_id: uuid.UUID, body: ClarificationCreate, session: DbSession, principal: Principal = Depends(registrars)
) -> ClarificationOut:
    """Draft a clarification or amendment (澄清/修改) of a published lot's tender documents.
    Attach new documents if any, then publish it."""
    return views.clarification_out(session, service.create_clarification(session, principal, lot_id, body))


@router.get("/clarifications/{clarification_id}", response_model=ClarificationOut, tags=["clarifications"])
def get_clarification(
    clarification_id: uuid.UUID, session: DbSession, principal: Principal = Depends(readers)
) -> ClarificationOut:
    """One clarification; drafts are seen only by the organiser and staff."""
    clarification, _, _ = service.get_clarification(session, principal, clarification_id)
    return views.clarification_out(session, clarification)


@router.post(
    "/clarifications/{clarification_id}/documents",
    status_code=201,
    response_model=DocumentOut,
    tags=["clarifications"],
    openapi_extra=STREAMED_UPLOAD,
)
def upload_clarification_document(
    clarification_id: uuid.UUID,
    request: Request,
    session: DbSession,
    principal: Principal = Depends(registrars),
    store: BlobStore = Depends(blob_store),
    filename: str = FILENAME,
) -> DocumentOut:
    """Attach a document to a draft clarification, streamed as for notices."""
    upload = upload_from(request, filename)
    return document_out(service.upload_clarification_document(session, principal, clarification_id, upload, store))


@router.post("/clarifications/{clarification_id}/publish", response_model=ClarificationOut, tags=["clarifications"])
def publish_clarification(
    clarification_id: uuid.UUID,
    session: DbSession,
    principal: Principal = Depends(registrars),
    body: ClarificationPublish | None = Body(default=None),
) -> ClarificationOut:
    """Issue the clarification. If fewer than 15 days remain before the bid deadline (by the
    database's clock), the body must carry ``new_bid_deadline`` at least 15 days after now, else 422
    ``clarification_requires_deadline_move`` (招标投标法实施条例 第二十一条); the lot's deadline moves
    with it. Every organisation that downloaded the lot's documents is notified."""
    clarification = service.publish_clarification(session, principal, clarification_id, body or ClarificationPublish())
    return views.clarification_out(session, clarification)


# --- objections ----------------------------------------------------------------------------------


@router.post("/lots/{lot_id}/objections", status_code=201, response_model=ObjectionOut, tags=["objections"])
def file_objection(
    lot_id: uuid.UUID, body: ObjectionCreate, session: DbSession, principal: Principal = Depends(bidders)
) -> ObjectionOut:
    """Object to a published lot's tender documents (异议), as a bidder of any platform. Allowed up
    to 10 days before the bid deadline, else 422 ``objection_too_late`` (招标投标法实施条例
    第二十二条). The lot is suspended until the organiser replies, which is due within 3 days."""
    objection, lot = objections.file(session, principal, lot_id, body)
    return views.objection_out(principal, objection, lot, db_now(session))


@router.get("/objections", response_model=list[ObjectionOut], tags=["objections"])
def my_objections(
    session: DbSession,
    principal: Principal = Depends(bidders),
    limit: int = Query(100, ge=1, le=500),
    offset: int = Query(0, ge=0, le=BIGINT_MAX),
) -> list[ObjectionOut]:
    """The objections the caller's organisation filed, newest first, with their replies."""
    now = db_now(session)
    return [
        views.objection_out(principal, o, lot, now)
        for o, lot in objections.own(session, principal, limit=limit, offset=offset)
    ]


@router.get("/lots/{lot_id}/objections", response_model=list[ObjectionOut], tags=["objections"])
def lot_objections(
    lot_id: uuid.UUID, session: DbSession, principal: Principal = Depends(readers)
) -> list[ObjectionOut]:
    """A lot's objections, for its organiser, the platform's staff and supervisors. Who objected is
    withheld (``objector_org`` null) until the bid deadline."""
    lot, found = objections.of_lot(session, principal, lot_id)
    now = db_now(session)
    return [views.objection_out(principal, o, lot, now) for o in found]


@router.post("/objections/{objection_id}/reply", response_model=ObjectionOut, tags=["objections"])
def reply_objection(
    objection_id: uuid.UUID, body: ObjectionReply, session: DbSession, principal: Principal = Depends(registrars)
) -> ObjectionOut:
    """Reply to an objection as the lot's organiser (late replies are accepted and stay marked as
    such in the audit trail). The lot resumes when none of its objections awaits a reply."""
    objection, lot = objections.reply(session, principal, objection_id, body)
    return views.objection_out(principal, objection, lot, db_now(session))


# --- notifications -------------------------------------------------------------------------------


@router.get("/notifications", response_model=list[NotificationOut], tags=["notifications"])
def my_notifications(
    session: DbSession,
    principal: Principal = Depends(bidders),
    unread_only: bool = Query(False),
    limit: int = Query(100, ge=1, le=500),
    offset: int = Query(0, ge=0, le=BIGINT_MAX),
) -> list[NotificationOut]:
    """Notifications for the caller's organisation (clarifications of lots whose documents it
    downloaded), newest first."""
    found = service.notifications(session, principal, unread_only=unread_only, limit=limit, offset=offset)
    return [views.notification_out(n) for n in found]


@router.post("/notifications/{notification_id}/read", response_model=NotificationOut, tags=["notifications"])
def read_notification(
    notification_id: uuid.UUID, session: DbSession, principal: Principal = Depends(bidders)
) -> NotificationOut:
    """Mark one of the organisation's notifications read (repeating it changes nothing)."""
    return views.notification_out(service.mark_read(session, principal, notification_id))
