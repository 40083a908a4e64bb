from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel

from services.trading.documents.models import Document


class DocumentOut(BaseModel):
    """A tender document as anyone may see it: what it is, never who obtained it."""

    id: uuid.UUID
    filename: str
    content_type: str
    size: int
    sha256: str
    created_at: datetime


class DownloadOut(BaseModel):
    id: int
    document_id: uuid.UUID
    lot_id: uuid.UUID
    org: str
    downloaded_by: str
    client_ip: str | None
    downloaded_at: datetime


def document_out(d: Document) -> DocumentOut:
    return DocumentOut(
        id=d.id, filename=d.filename, content_type=d.content_type, size=d.size, sha256=d.sha256, created_at=d.created_at
    )
