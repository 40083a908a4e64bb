from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from services.trading.db import Base


class Document(Base):
    """A tender document (or a clarification's document): its bytes are the blob named ``sha256``."""

    __tablename__ = "documents"
    __table_args__ = (
        CheckConstraint("(notice_id is null) <> (clarification_id is null)", name="one_owner"),
        CheckConstraint("size > 0", name="size_positive"),
        CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="sha256_hex"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    notice_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("notices.id"), index=True)
    clarification_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("clarifications.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    uploaded_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("clock_timestamp()"))


class DocumentDownload(Base):
    """Who obtained which tender document for which lot, when and from where (one row per lot the
    document was on offer for). Secret until the lot's bid deadline (电子招标投标办法 第二十一条)."""

    __tablename__ = "document_downloads"
    __table_args__ = (Index("ix_document_downloads_lot_id_org", "lot_id", "org"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("documents.id"), index=True)
    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lots.id"))
    org: Mapped[str] = mapped_column(String(64))
    downloaded_by: Mapped[str] = mapped_column(String(128))
    client_ip: Mapped[str | None] = mapped_column(String(64))
    downloaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
