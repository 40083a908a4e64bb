"""Storing uploaded documents, handing them to bidders, and the secret record of who took them."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.trading.audit import emit
from services.trading.documents.models import Document, DocumentDownload
from services.trading.documents.streaming import Upload
from services.trading.lots import service as lots
from services.trading.lots.models import Lot
from services.trading.notices.models import Clarification, Notice, NoticeLot
from services.trading.projects.models import Project
from shared.auth import Principal
from shared.db import db_now
from shared.errors import Conflict, Forbidden, NotFound, Unprocessable
from shared.request_context import current
from shared.storage import BlobStore, StoredBlob


def receive(store: BlobStore, upload: Upload) -> StoredBlob:
    """Stream the upload into the store (413 past its cap, nothing left behind)."""
    try:
        blob = store.put(upload.chunks, max_bytes=upload.max_bytes)
    finally:
        upload.chunks.close()  # here, in the request's thread, where the body stream can be closed
    if blob.size == 0:
        raise Unprocessable("文件内容为空", code="empty_document")
    return blob


def add(
    session: Session,
    principal: Principal,
    project: Project,
    upload: Upload,
    blob: StoredBlob,
    *,
    notice_id: uuid.UUID | None = None,
    clarification_id: uuid.UUID | None = None,
    lot_id: uuid.UUID | None = None,
) -> Document:
    document = Document(
        notice_id=notice_id,
        clarification_id=clarification_id,
        filename=upload.filename,
        content_type=upload.content_type,
        sha256=blob.sha256,
        size=blob.size,
        uploaded_by=principal.subject,
    )
    session.add(document)
    session.flush()
    emit(
        session,
        principal=principal,
        action="document.uploaded",
        object_type="document",
        object_id=str(document.id),
        platform=project.platform,
        project_id=str(project.id),
        lot_id=str(lot_id) if lot_id else None,
        change={
            "notice_id": str(notice_id) if notice_id else None,
            "clarification_id": str(clarification_id) if clarification_id else None,
            "filename": upload.filename,
            "content_type": upload.content_type,
            "sha256": blob.sha256,
            "size": blob.size,
        },
    )
    return document


def of_notice(session: Session, notice_id: uuid.UUID) -> list[Document]:
    return list(session.scalars(select(Document).where(Document.notice_id == notice_id).order_by(Document.created_at)))


def of_clarifications(session: Session, ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Document]]:
    found: dict[uuid.UUID, list[Document]] = {i: [] for i in ids}
    if ids:
        query = select(Document).where(Document.clarification_id.in_(ids)).order_by(Document.created_at)
        for document in session.scalars(query):
            assert document.clarification_id is not None  # noqa: S101 - selected by it
            found[document.clarification_id].append(document)
    return found


def _lots_on_offer(session: Session, document: Document) -> tuple[Project, list[Lot]] | None:
    """The project and the lots this published document is on offer for now, or None if the
    document is not public (a draft's)."""
    now = db_now(session)
    if document.notice_id is not None:
        notice = session.get(Notice, document.notice_id)
        if notice is None or notice.status != "published":
            return None
        covered = session.scalars(
            select(Lot).join(NoticeLot, NoticeLot.lot_id == Lot.id).where(NoticeLot.notice_id == notice.id)
        )
        # Tender documents are on offer for the period the lot announces (条例 第十六条).
        offered = [
            lot for lot in covered if lot.documents_from <= now <= lot.documents_until and now < lot.bid_deadline
        ]
        project_id = notice.project_id
    else:
        clarification = session.get(Clarification, document.clarification_id)
        if clarification is None or clarification.status != "published":
            return None
        lot = session.get(Lot, clarification.lot_id)
        assert lot is not None  # noqa: S101 - foreign key
        # A clarification amends documents already obtained: on offer until the bid deadline.
        offered = [lot] if now < lot.bid_deadline else []
        project_id = lot.project_id
    project = session.get(Project, project_id)
    assert project is not None  # noqa: S101 - foreign key
    return project, offered


def record_download(session: Session, principal: Principal, document_id: uuid.UUID, store: BlobStore) -> Document:
    """Check a bidder may take the document now and record that it did, in this transaction.

    No registration, fee or approval is asked for (电子招标投标办法 第二十条); the only conditions are
    that the document is published and on offer, and that the caller acts for an organisation,
    because the record (and the clarifications it will be sent) is per organisation."""
    if principal.org is None:
        raise Forbidden("下载招标文件须以投标单位身份登录", code="no_organisation")
    document = session.get(Document, document_id)
    found = _lots_on_offer(session, document) if document is not None else None
    if document is None or found is None:
        raise NotFound("文件不存在")
    project, offered = found
    if not offered:
        raise Conflict("招标文件不在发售（提供）期内", code="documents_not_on_offer")
    if not store.exists(document.sha256):  # a lost blob is our fault: fail before recording anything
        raise RuntimeError(f"blob {document.sha256} of document {document.id} is missing from the store")
    ctx = current()
    now = db_now(session)
    for lot in offered:
        session.add(
            DocumentDownload(
                document_id=document.id,
                lot_id=lot.id,
                org=principal.org,
                downloaded_by=principal.subject,
                client_ip=ctx.client_ip if ctx else None,
                downloaded_at=now,
            )
        )
    emit(
        session,
        principal=principal,
        action="document.downloaded",
        object_type="document",
        object_id=str(document.id),
        platform=project.platform,
        project_id=str(project.id),
        lot_id=str(offered[0].id) if len(offered) == 1 else None,
        change={"lot_ids": [str(lot.id) for lot in offered], "sha256": document.sha256},
    )
    return document


def downloader_orgs(session: Session, lot_id: uuid.UUID) -> list[str]:
    """Organisations that obtained documents of the lot. For notifying them only: never returned
    to a caller, nor counted in a response, before the bid deadline."""
    query = (
        select(DocumentDownload.org).where(DocumentDownload.lot_id == lot_id).distinct().order_by(DocumentDownload.org)
    )
    return list(session.scalars(query))


def downloads_of_lot(
    session: Session, principal: Principal, lot_id: uuid.UUID, *, limit: int, after: int | None
) -> list[DocumentDownload]:
    """The download record of a lot, once its bid deadline (by the database's clock) has passed.

    Before it nobody — tenderee, agency, trading centre or supervisor — may learn who or how many
    obtained the documents (电子招标投标办法 第二十一条; 招标投标法 第二十二条)."""
    lot, _ = lots.get(session, principal, lot_id)
    if db_now(session) < lot.bid_deadline:
        raise Forbidden(
            "投标截止时间前不得披露获取招标文件的潜在投标人名称、数量",
            code="secret_until_deadline",
            details={"bid_deadline": lot.bid_deadline.isoformat(), "basis": "电子招标投标办法 第二十一条"},
        )
    query = select(DocumentDownload).where(DocumentDownload.lot_id == lot.id).order_by(DocumentDownload.id).limit(limit)
    if after is not None:
        query = query.where(DocumentDownload.id > after)
    return list(session.scalars(query))
