from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.trading.db import Base


class CatalogueVersion(Base):
    """One immutable version of the whole catalogue; the newest is in force. Projects record the
    version they were registered under, so an old decision can always be explained."""

    __tablename__ = "catalogue_versions"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    categories: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    note: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("clock_timestamp()"))
