from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from services.trading.db import Base


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (CheckConstraint("estimated_price_fen >= 0", name="estimated_price_non_negative"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    category_code: Mapped[str] = mapped_column(String(40))
    catalogue_version: Mapped[int] = mapped_column(Integer)
    region_code: Mapped[str] = mapped_column(String(6))
    platform: Mapped[str] = mapped_column(String(32), index=True)
    estimated_price_fen: Mapped[int] = mapped_column(BigInteger)
    funding_source: Mapped[str] = mapped_column(String(200))
    tenderee_org: Mapped[str] = mapped_column(String(64), index=True)
    agency_org: Mapped[str | None] = mapped_column(String(64), index=True)
    # 应进必进: whether the catalogue in force required this project to trade on the platform, and why.
    must_enter: Mapped[bool]
    must_enter_reason: Mapped[str] = mapped_column(Text)
    registered_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("clock_timestamp()"))


class ProjectCodeCounter(Base):
    """Per platform and year, the last project number handed out (codes are dense and readable)."""

    __tablename__ = "project_code_counters"

    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer)
