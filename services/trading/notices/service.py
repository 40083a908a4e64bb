"""Notices and clarifications: drafted and published by the project's organiser, read by the public.

Uploads release the database connection while the client sends the file (a slow upload must not
hold a pool connection and an open transaction), then check everything again under the lot locks
before writing, so a notice published or a lot suspended meanwhile is still refused.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Select, select, tuple_
from sqlalchemy.orm import Session

from services.trading.audit import emit
from services.trading.documents import service as documents
from services.trading.documents.models import Document
from services.trading.documents.streaming import Upload
from services.trading.lots import service as lots
from services.trading.lots.models import Lot
from services.trading.lots.rules import MIN_BIDDING_PERIOD, TENDER_METHODS
from services.trading.notices import rules
from services.trading.notices.models import Clarification, Notice, NoticeLot, Notification
from services.trading.notices.schemas import ClarificationCreate, ClarificationPublish, NoticeCreate
from services.trading.projects import service as projects
from services.trading.projects.models import Project
from shared.auth import Principal
from shared.db import db_now
from shared.errors import Conflict, Forbidden, NotFound, Unprocessable
from shared.storage import BlobStore


def is_organiser(principal: Principal, project: Project) -> bool:
    return (
        principal.typ == "user"
        and principal.has_role("tenderee", "agency")
        and principal.org is not None
        and principal.org in (project.tenderee_org, project.agency_org)
    )


def ensure_organiser(principal: Principal, project: Project) -> None:
    if not is_organiser(principal, project):
        raise Forbidden("只有本项目的招标人或代理机构可以执行此操作", code="not_your_organisation")


def sees_drafts(principal: Principal, project: Project) -> bool:
    """Drafts are the organiser's work in progress; trading-centre staff may look over its shoulder."""
    return is_organiser(principal, project) or (principal.typ == "user" and principal.has_role("operator", "admin"))


# --- notices -------------------------------------------------------------------------------------


def get(session: Session, principal: Principal, notice_id: uuid.UUID) -> tuple[Notice, Project]:
    notice = session.get(Notice, notice_id)
    if notice is None:
        raise NotFound("公告不存在")
    try:
        project = projects.get(session, principal, notice.project_id)
    except NotFound:
        raise NotFound("公告不存在") from None
    if notice.status == "draft" and not sees_drafts(principal, project):
        raise NotFound("公告不存在")
    return notice, project


def of_project(session: Session, principal: Principal, project_id: uuid.UUID) -> tuple[Project, list[Notice]]:
    project = projects.get(session, principal, project_id)
    query = select(Notice).where(Notice.project_id == project.id).order_by(Notice.created_at, Notice.id)
    if not sees_drafts(principal, project):
        query = query.where(Notice.status == "published")
    return project, list(session.scalars(query))


def lots_of(session: Session, notice_id: uuid.UUID, *, lock: bool = False) -> list[Lot]:
    # Locked in id order, the same order everywhere, so two requests never wait on each other crosswise.
    query = select(Lot).join(NoticeLot, NoticeLot.lot_id == Lot.id).where(NoticeLot.notice_id == notice_id)
    if lock:
        query = query.order_by(Lot.id).with_for_update(of=Lot).execution_options(populate_existing=True)
        return list(session.scalars(query))
    return list(session.scalars(query.order_by(Lot.lot_no)))


def create(session: Session, principal: Principal, project_id: uuid.UUID, data: NoticeCreate) -> Notice:
    project = projects.get(session, principal, project_id)
    ensure_organiser(principal, project)
    found = set(session.scalars(select(Lot.id).where(Lot.id.in_(data.lot_ids), Lot.project_id == project.id)))
    unknown = [str(i) for i in data.lot_ids if i not in found]
    if unknown:
        raise Unprocessable("标段不属于本项目", code="unknown_lots", details={"lot_ids": unknown})
    notice = Notice(
        project_id=project.id,
        platform=project.platform,
        category_code=project.category_code,
        title=data.title,
        body=data.body,
        status="draft",
        created_by=principal.subject,
    )
    session.add(notice)
    session.flush()
    session.add_all([NoticeLot(notice_id=notice.id, lot_id=lot_id) for lot_id in data.lot_ids])
    session.flush()
    emit(
        session,
        principal=principal,
        action="notice.drafted",
        object_type="notice",
        object_id=str(notice.id),
        platform=project.platform,
        project_id=str(project.id),
        change=data.model_dump(mode="json"),
    )
    return notice


def _draft_for_upload(
    session: Session, principal: Principal, notice_id: uuid.UUID, *, lock: bool
) -> tuple[Notice, Project]:
    notice, project = get(session, principal, notice_id)
    ensure_organiser(principal, project)
    covered = lots_of(session, notice.id, lock=lock)
    if lock:
        session.refresh(notice, with_for_update=True)
    if notice.status != "draft":
        raise Conflict("公告已发布，不能再上传文件；请通过澄清或修改发出新文件", code="notice_published")
    for lot in covered:
        lots.ensure_not_suspended(lot)
    return notice, project


def upload_document(
    session: Session, principal: Principal, notice_id: uuid.UUID, upload: Upload, store: BlobStore
) -> Document:
    _draft_for_upload(session, principal, notice_id, lock=False)
    session.rollback()  # nothing written yet; give the connection back while the file streams in
    blob = documents.receive(store, upload)
    notice, project = _draft_for_upload(session, principal, notice_id, lock=True)
    return documents.add(session, principal, project, upload, blob, notice_id=notice.id)


def publish(session: Session, principal: Principal, notice_id: uuid.UUID) -> Notice:
    notice, project = get(session, principal, notice_id)
    ensure_organiser(principal, project)
    covered = lots_of(session, notice.id, lock=True)
    session.refresh(notice, with_for_update=True)  # two publishers at once: the second sees "published"
    if notice.status != "draft":
        raise Conflict("公告已发布", code="notice_already_published")
    if not documents.of_notice(session, notice.id):
        raise Unprocessable("公告须附招标文件后才能发布", code="notice_without_documents")
    now = db_now(session)
    for lot in covered:
        lots.ensure_not_suspended(lot)
        if lot.bid_deadline <= now:
            raise Conflict("标段投标截止时间已过", code="deadline_passed", details={"lot_id": str(lot.id)})
        if lot.procurement_method in TENDER_METHODS and lot.bid_deadline - now < MIN_BIDDING_PERIOD:
            raise Unprocessable(
                "自招标文件开始发出之日起至投标截止之日止，不得少于二十日；请先顺延投标截止时间",
                code="bidding_period_too_short",
                details={"lot_id": str(lot.id), "basis": "招标投标法 第二十四条；政府采购法 第三十五条"},
            )
    announced = list(
        session.scalars(
            select(NoticeLot.lot_id)
            .join(Notice, Notice.id == NoticeLot.notice_id)
            .where(Notice.status == "published", NoticeLot.lot_id.in_([lot.id for lot in covered]))
        )
    )
    if announced:
        raise Conflict(
            "标段已由另一份公告发布", code="lot_already_announced", details={"lot_ids": [str(i) for i in announced]}
        )
    notice.status = "published"
    notice.published_at = now
    notice.published_by = principal.subject
    session.flush()
    emit(
        session,
        principal=principal,
        action="notice.published",
        object_type="notice",
        object_id=str(notice.id),
        platform=project.platform,
        project_id=str(project.id),
        change={
            "published_at": now.isoformat(),
            "lot_ids": [str(lot.id) for lot in covered],
            "documents": [d.sha256 for d in documents.of_notice(session, notice.id)],
        },
    )
    return notice


def published_notice_of(session: Session, lot_id: uuid.UUID) -> Notice | None:
    query = (
        select(Notice)
        .join(NoticeLot, NoticeLot.notice_id == Notice.id)
        .where(NoticeLot.lot_id == lot_id, Notice.status == "published")
    )
    return session.scalars(query).first()


def public_list(
    session: Session,
    *,
    platform: str | None,
    category_code: str | None,
    status: rules.TenderStatus | None,
    after: uuid.UUID | None,
    limit: int,
) -> list[Notice]:
    """Published notices, newest first, ``limit`` after the ``after`` cursor (a notice id)."""
    query: Select[tuple[Notice]] = select(Notice).where(Notice.status == "published")
    if platform is not None:
        query = query.where(Notice.platform == platform)
    if category_code is not None:
        query = query.where(Notice.category_code == category_code)
    if status is not None:
        now = db_now(session)
        lots_of_notice = (
            select(NoticeLot.lot_id).join(Lot, Lot.id == NoticeLot.lot_id).where(NoticeLot.notice_id == Notice.id)
        )
        suspended = lots_of_notice.where(Lot.status == "suspended").exists()
        ahead = lots_of_notice.where(Lot.bid_deadline > now).exists()
        if status == "suspended":
            query = query.where(suspended)
        elif status == "open":
            query = query.where(~suspended, ahead)
        else:
            query = query.where(~suspended, ~ahead)
    if after is not None:
        cursor = session.execute(
            select(Notice.published_at, Notice.id).where(Notice.id == after, Notice.status == "published")
        ).first()
        if cursor is None:
            raise Unprocessable("分页游标不是已发布公告的编号", code="invalid_cursor")
        query = query.where(tuple_(Notice.published_at, Notice.id) < tuple_(cursor[0], cursor[1]))
    return list(session.scalars(query.order_by(Notice.published_at.desc(), Notice.id.desc()).limit(limit)))


def public_get(session: Session, notice_id: uuid.UUID) -> tuple[Notice, Project]:
    notice = session.get(Notice, notice_id)
    if notice is None or notice.status != "published":
        raise NotFound("公告不存在")
    project = session.get(Project, notice.project_id)
    assert project is not None  # noqa: S101 - foreign key
    return notice, project


# --- clarifications ------------------------------------------------------------------------------


def clarifications_of(session: Session, notice_id: uuid.UUID, *, include_drafts: bool) -> list[Clarification]:
    query = select(Clarification).where(Clarification.notice_id == notice_id)
    if not include_drafts:
        query = query.where(Clarification.status == "published")
    return list(session.scalars(query.order_by(Clarification.created_at, Clarification.id)))


def get_clarification(
    session: Session, principal: Principal, clarification_id: uuid.UUID
) -> tuple[Clarification, Lot, Project]:
    clarification = session.get(Clarification, clarification_id)
    if clarification is None:
        raise NotFound("澄清不存在")
    try:
        lot, project = lots.get(session, principal, clarification.lot_id)
    except NotFound:
        raise NotFound("澄清不存在") from None
    if clarification.status == "draft" and not sees_drafts(principal, project):
        raise NotFound("澄清不存在")
    return clarification, lot, project


def create_clarification(
    session: Session, principal: Principal, lot_id: uuid.UUID, data: ClarificationCreate
) -> Clarification:
    lot, project = lots.get(session, principal, lot_id)
    ensure_organiser(principal, project)
    notice = published_notice_of(session, lot.id)
    if notice is None:
        raise Conflict("标段尚未发布招标公告，直接修改公告草稿即可", code="lot_not_published")
    lots.ensure_not_suspended(lot)
    clarification = Clarification(
        lot_id=lot.id, notice_id=notice.id, body=data.body, status="draft", created_by=principal.subject
    )
    session.add(clarification)
    session.flush()
    emit(
        session,
        principal=principal,
        action="clarification.drafted",
        object_type="clarification",
        object_id=str(clarification.id),
        platform=project.platform,
        project_id=str(project.id),
        lot_id=str(lot.id),
        change=data.model_dump(mode="json"),
    )
    return clarification


def _clarification_draft(
    session: Session, principal: Principal, clarification_id: uuid.UUID, *, lock: bool
) -> tuple[Clarification, Lot, Project]:
    clarification, lot, project = get_clarification(session, principal, clarification_id)
    ensure_organiser(principal, project)
    if lock:
        lot = lots.lock(session, lot.id)
        session.refresh(clarification, with_for_update=True)
    if clarification.status != "draft":
        raise Conflict("澄清已发出，不能再修改", code="clarification_already_published")
    lots.ensure_not_suspended(lot)
    return clarification, lot, project


def upload_clarification_document(
    session: Session, principal: Principal, clarification_id: uuid.UUID, upload: Upload, store: BlobStore
) -> Document:
    _clarification_draft(session, principal, clarification_id, lock=False)
    session.rollback()  # as for notices: no transaction held open while the file streams in
    blob = documents.receive(store, upload)
    clarification, lot, project = _clarification_draft(session, principal, clarification_id, lock=True)
    return documents.add(session, principal, project, upload, blob, clarification_id=clarification.id, lot_id=lot.id)


def publish_clarification(
    session: Session, principal: Principal, clarification_id: uuid.UUID, data: ClarificationPublish
) -> Clarification:
    """Issue the clarification: decide (and apply) the deadline move at the database's *now*, and
    store a notification for every organisation that obtained the lot's documents."""
    clarification, lot, project = _clarification_draft(session, principal, clarification_id, lock=True)
    now = db_now(session)
    if now >= lot.bid_deadline:
        raise Conflict("投标截止时间已过", code="deadline_passed", details={"lot_id": str(lot.id)})
    target = rules.deadline_after_clarification(
        issued_at=now, bid_deadline=lot.bid_deadline, requested=data.new_bid_deadline
    )
    moved: datetime | None = None
    if target != lot.bid_deadline:
        moved = lots.move_deadline(
            session,
            principal,
            lot,
            project,
            target,
            reason={"clarification_id": str(clarification.id), "basis": rules.CLARIFICATION_BASIS},
        )
        clarification.previous_bid_deadline = moved
        clarification.new_bid_deadline = target
    clarification.status = "published"
    clarification.issued_at = now
    clarification.issued_by = principal.subject
    message = f"标段“{lot.name}”的招标文件有澄清或修改，请查阅。"
    if moved is not None:
        message += f"投标截止时间已顺延至 {target.isoformat()}。"
    for org in documents.downloader_orgs(session, lot.id):
        session.add(
            Notification(
                org=org,
                kind="clarification",
                lot_id=lot.id,
                notice_id=clarification.notice_id,
                clarification_id=clarification.id,
                message=message,
            )
        )
    session.flush()
    # Deliberately no count of the notified: who and how many obtained the documents stay secret
    # until the deadline, from the audit trail's readers too.
    emit(
        session,
        principal=principal,
        action="clarification.published",
        object_type="clarification",
        object_id=str(clarification.id),
        platform=project.platform,
        project_id=str(project.id),
        lot_id=str(lot.id),
        change={
            "issued_at": now.isoformat(),
            "previous_bid_deadline": moved.isoformat() if moved else None,
            "new_bid_deadline": target.isoformat() if moved else None,
            "documents": [d.sha256 for d in documents.of_clarifications(session, [clarification.id])[clarification.id]],
        },
    )
    return clarification


# --- notifications -------------------------------------------------------------------------------


def _own_org(principal: Principal) -> str:
    if principal.org is None:
        raise Forbidden("须以投标单位身份登录", code="no_organisation")
    return principal.org


def notifications(
    session: Session, principal: Principal, *, unread_only: bool, limit: int, offset: int
) -> list[Notification]:
    query = select(Notification).where(Notification.org == _own_org(principal))
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    query = query.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(query))


def mark_read(session: Session, principal: Principal, notification_id: uuid.UUID) -> Notification:
    notification = session.get(Notification, notification_id)
    if notification is None or notification.org != _own_org(principal):
        raise NotFound("通知不存在")  # another organisation's notification is none of the caller's business
    if notification.read_at is not None:
        return notification
    notification.read_at = db_now(session)
    notification.read_by = principal.subject
    lot = session.get(Lot, notification.lot_id)
    project = session.get(Project, lot.project_id) if lot else None
    session.flush()
    emit(
        session,
        principal=principal,
        action="notification.read",
        object_type="notification",
        object_id=str(notification.id),
        platform=project.platform if project else None,
        project_id=str(project.id) if project else None,
        lot_id=str(notification.lot_id),
        change={"clarification_id": str(notification.clarification_id), "read_at": notification.read_at.isoformat()},
    )
    return notification
