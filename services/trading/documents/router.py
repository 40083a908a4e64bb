from __future__ import annotations

import uuid
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from services.trading.documents import service
from services.trading.documents.models import DocumentDownload
from services.trading.documents.schemas import DownloadOut
from services.trading.documents.streaming import blob_store
from shared.auth import Principal, require
from shared.db import BIGINT_MAX, DbSession
from shared.storage import BlobStore

router = APIRouter(tags=["documents"])
bidders = require("bidder", typ="user")
download_auditors = require("operator", "supervisor", typ="user")


def _download_out(d: DocumentDownload) -> DownloadOut:
    return DownloadOut(
        id=d.id,
        document_id=d.document_id,
        lot_id=d.lot_id,
        org=d.org,
        downloaded_by=d.downloaded_by,
        client_ip=d.client_ip,
        downloaded_at=d.downloaded_at,
    )


def _disposition(filename: str) -> str:
    # RFC 6266 / 5987: an ASCII fallback for old clients, the real (often Chinese) name in filename*.
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


@router.get(
    "/documents/{document_id}/content",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "the document's bytes"}},
)
def download_document(
    document_id: uuid.UUID,
    session: DbSession,
    principal: Principal = Depends(bidders),
    store: BlobStore = Depends(blob_store),
) -> StreamingResponse:
    """Download a published tender document (or a clarification's document) as a bidder.

    No sign-up, fee or approval is required (电子招标投标办法 第二十条), and bidders of every
    platform may download (no regional barrier). Notice documents are on offer during the lot's
    documents period, clarification documents until the bid deadline; otherwise 409
    ``documents_not_on_offer``. The download is recorded for the caller's organisation before the
    first byte is sent; that organisation then receives the clarifications of the lot(s). Compare
    the ``X-Content-SHA256`` header with the SHA-256 of what you received."""
    document = service.record_download(session, principal, document_id, store)
    return StreamingResponse(
        store.open(document.sha256),
        media_type=document.content_type,
        headers={
            "Content-Length": str(document.size),
            "Content-Disposition": _disposition(document.filename),
            "X-Content-SHA256": document.sha256,
            "Cache-Control": "private, no-store",
        },
    )


@router.get("/lots/{lot_id}/downloads", response_model=list[DownloadOut])
def lot_downloads(
    lot_id: uuid.UUID,
    session: DbSession,
    principal: Principal = Depends(download_auditors),
    after: int | None = Query(None, ge=1, le=BIGINT_MAX, description="cursor: skip records up to this one"),
    limit: int = Query(500, ge=1, le=1000),
) -> list[DownloadOut]:
    """Who obtained the lot's tender documents (organisation, user, time, IP), for trading-centre
    operators and supervisors. Before the bid deadline — by the database's clock — this answers
    403 ``secret_until_deadline``: nobody may learn who or how many obtained the documents until
    then (电子招标投标办法 第二十一条; 招标投标法 第二十二条)."""
    return [_download_out(d) for d in service.downloads_of_lot(session, principal, lot_id, limit=limit, after=after)]
