from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ARRAY, Boolean, CheckConstraint, DateTime, ForeignKey, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from services.expert_pool.db import Base


class Specialty(Base):
    """评标专业: a code list kept as data, edited by city operators."""

    __tablename__ = "specialties"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("specialties.code"))
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))


class Expert(Base):
    __tablename__ = "experts"
    __table_args__ = (
        CheckConstraint("title_level in ('senior','associate_senior','intermediate','other')", name="title_level"),
        CheckConstraint("status in ('active','suspended','removed')", name="status"),
        CheckConstraint("years_experience >= 0", name="years_non_negative"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    platform: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(50))
    title: Mapped[str] = mapped_column(String(100))
    title_level: Mapped[str] = mapped_column(String(32))
    years_experience: Mapped[int] = mapped_column(Integer)
    specialties: Mapped[list[str]] = mapped_column(ARRAY(String(16)))
    employer_credit_code: Mapped[str] = mapped_column(String(18))
    status: Mapped[str] = mapped_column(String(16), server_default=text("'active'"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("clock_timestamp()"))
