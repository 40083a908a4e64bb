from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.trading.db import Base


class ExpertDrawRequest(Base):
    """A committee asked of the expert pool for a lot. Trading keeps only the draw's id and what it
    sent: the names stay in the expert pool, sealed until the result is decided."""

    __tablename__ = "expert_draw_requests"
    __table_args__ = (UniqueConstraint("lot_id", "idempotency_key"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lots.id"), index=True)
    draw_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(128))
    request: Mapped[dict[str, Any]] = mapped_column(JSONB)
    requested_by: Mapped[str] = mapped_column(String(128))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class EvaluationReportRecord(Base):
    """The committee's report as the expert pool returned it (评标报告), kept verbatim with its
    digest; one per lot, final once received."""

    __tablename__ = "evaluation_reports"
    __table_args__ = (CheckConstraint("report_sha256 ~ '^[0-9a-f]{64}$'", name="report_sha256_hex"),)

    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lots.id"), primary_key=True)
    evaluation_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    method: Mapped[str] = mapped_column(String(40))
    candidates: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    rejected: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    report: Mapped[dict[str, Any]] = mapped_column(JSONB)
    report_sha256: Mapped[str] = mapped_column(String(64))
    completed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
