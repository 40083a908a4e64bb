from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, DateTime, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from services.trading.db import Base

VENUE_KINDS = ("opening_hall", "evaluation_room", "remote_evaluation_room")


class Venue(Base):
    __tablename__ = "venues"
    __table_args__ = (
        CheckConstraint("kind in ('opening_hall','evaluation_room','remote_evaluation_room')", name="kind"),
        CheckConstraint("capacity > 0", name="capacity_positive"),
        UniqueConstraint("platform", "name"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    platform: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(32))
    location: Mapped[str] = mapped_column(String(200))
    capacity: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("clock_timestamp()"))
