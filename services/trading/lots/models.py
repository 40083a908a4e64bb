from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Integer, String, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.trading.db import Base

# ``suspended``: tendering of the lot is halted while it has at least one hold (an objection to its
# tender documents awaiting the organiser's reply, 招标投标法实施条例 第二十二条; a supervisor's
# suspension while a complaint is handled); clarifications, documents and bids are refused.
LOT_STATUSES = ("active", "suspended")


class Lot(Base):
    __tablename__ = "lots"
    __table_args__ = (
        UniqueConstraint("project_id", "lot_no"),
        CheckConstraint("documents_from < documents_until and documents_until <= bid_deadline", name="time_order"),
        CheckConstraint("decryption_window_minutes between 10 and 240", name="decryption_window"),
        CheckConstraint("status in ('active','suspended')", name="status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id"), index=True)
    lot_no: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    estimated_price_fen: Mapped[int] = mapped_column(BigInteger)
    ceiling_price_fen: Mapped[int | None] = mapped_column(BigInteger)
    procurement_method: Mapped[str] = mapped_column(String(40))
    evaluation: Mapped[dict[str, Any]] = mapped_column(JSONB)
    documents_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    documents_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The bid deadline is also the opening time (开标时间与投标截止时间一致).
    bid_deadline: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decryption_window_minutes: Mapped[int] = mapped_column(Integer)
    deposit: Mapped[dict[str, Any]] = mapped_column(JSONB)
    price_adjustments: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16), default="active", server_default=text("'active'"))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("clock_timestamp()"))


class LotHold(Base):
    """One reason a lot is suspended. The lot resumes only when its last hold is released, so an
    answered objection cannot lift a supervisor's suspension, nor the reverse."""

    __tablename__ = "lot_holds"

    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lots.id"), primary_key=True)
    # "objection:<id>" or "complaint:<id>": who placed it, and who alone may release it.
    reference: Mapped[str] = mapped_column(String(80), primary_key=True)
    reason: Mapped[str] = mapped_column(String(2000))
    placed_by: Mapped[str] = mapped_column(String(128))
    placed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("clock_timestamp()"))
