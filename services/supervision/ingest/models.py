from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Index, String, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.supervision.db import Base


class StoredEvent(Base):
    """Append-only: a trigger (see the migration) refuses UPDATE, DELETE and TRUNCATE."""

    __tablename__ = "audit_events"
    # The trail's queries page by id ("id > cursor order by id limit n"), so each filter gets an index
    # that ends in id: the scan starts at the cursor and stops after n rows however long the ledger.
    # (project_id, occurred_at, id) serves the per-project timeline, the day index time windows
    # (one probe per day finds a window's id range). Migration s0004 explains why and what it measured.
    __table_args__ = (
        UniqueConstraint("source", "delivery_seq"),
        Index("ix_audit_events_platform", "platform", "id"),
        Index("ix_audit_events_project", "project_id", "id"),
        Index("ix_audit_events_project_timeline", "project_id", "occurred_at", "id"),
        Index("ix_audit_events_lot", "lot_id", "id"),
        Index("ix_audit_events_organisation", "organisation", "id"),
        Index("ix_audit_events_actor", "actor", "id"),
        Index("ix_audit_events_action", "action", "id"),
        Index("ix_audit_events_source", "source", "id"),
        Index("ix_audit_events_object", "object_type", "object_id", "id"),
        Index(
            "ix_audit_events_occurred_day",
            text("date_trunc('day', occurred_at, 'UTC')"),
            "id",
            postgresql_include=["occurred_at"],
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    event_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    source: Mapped[str] = mapped_column(String(32))
    delivery_seq: Mapped[int] = mapped_column(BigInteger)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("clock_timestamp()"))
    actor: Mapped[str | None] = mapped_column(String(128))
    actor_role: Mapped[str] = mapped_column(String(32))
    organisation: Mapped[str | None] = mapped_column(String(64))
    platform: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str] = mapped_column(String(128))
    project_id: Mapped[str | None] = mapped_column(String(64))
    lot_id: Mapped[str | None] = mapped_column(String(64))
    change: Mapped[dict[str, Any]] = mapped_column(JSONB)
    digest: Mapped[str] = mapped_column(String(64))
    client_ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    device_fingerprint: Mapped[str | None] = mapped_column(String(256))
    request_id: Mapped[str | None] = mapped_column(String(128))
