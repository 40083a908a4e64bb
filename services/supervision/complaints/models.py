from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, DateTime, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from services.supervision.db import Base

STATUSES = ("filed", "accepted", "refused", "decided")


class Complaint(Base):
    __tablename__ = "complaints"
    __table_args__ = (
        CheckConstraint("status in ('filed','accepted','refused','decided')", name="status"),
        CheckConstraint("law in ('bidding_law','government_procurement')", name="law"),
        CheckConstraint("matter in ('tender_documents','opening','evaluation_result','other')", name="matter"),
        Index("ix_complaints_platform_status", "platform", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    platform: Mapped[str] = mapped_column(String(32))
    lot_id: Mapped[uuid.UUID] = mapped_column(index=True)
    project_id: Mapped[uuid.UUID]
    law: Mapped[str] = mapped_column(String(32))
    matter: Mapped[str] = mapped_column(String(32))
    complainant_org: Mapped[str] = mapped_column(String(64), index=True)
    complainant: Mapped[str] = mapped_column(String(128))
    facts: Mapped[str] = mapped_column(Text)
    request: Mapped[str] = mapped_column(Text)
    knew_on: Mapped[date] = mapped_column(Date)
    objection_ref: Mapped[str | None] = mapped_column(String(128))
    objection_filed_on: Mapped[date | None] = mapped_column(Date)
    objection_replied_on: Mapped[date | None] = mapped_column(Date)
    filed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("clock_timestamp()"))
    filed_on: Mapped[date] = mapped_column(Date)
    accept_due_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answered_by: Mapped[str | None] = mapped_column(String(128))
    refusal_reason: Mapped[str | None] = mapped_column(Text)
    decide_due_on: Mapped[date | None] = mapped_column(Date)
    decision: Mapped[str | None] = mapped_column(Text)
    decision_reasons: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lot_suspended: Mapped[bool] = mapped_column(server_default=text("false"))
