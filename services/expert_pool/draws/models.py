"""Tables of the draw: the draw record, its eligible snapshot, the assignments it made and the
notifications owed to experts (an outbox delivered by a background loop)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.expert_pool.db import Base

DRAW_KINDS = ("initial", "redraw", "supplementary")
# committed: the seed's commitment is fixed, nothing selected yet (a retry continues with the same
# seed); sealed: selected, the list confidential; revealed: the result is decided and the seed
# published; void: replaced by a re-draw or voided for the lot; failed: too few eligible experts.
DRAW_STATUSES = ("committed", "sealed", "revealed", "void", "failed")
ASSIGNMENT_ROLES = ("member", "reserve")
# reserve: waiting, not told; pending: told, no answer yet; the rest are answers or outcomes.
ASSIGNMENT_STATUSES = ("reserve", "pending", "accepted", "declined", "no_show", "cancelled")
NOTIFICATION_KINDS = ("selected", "promoted", "cancelled")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} in ({', '.join(repr(v) for v in values)})"


class Draw(Base):
    """One draw (抽取) for a lot: the request, the commitment to its seed, the eligible snapshot's
    digest, the exclusion counts per rule and the ordered result. Never deleted."""

    __tablename__ = "draws"
    __table_args__ = (
        CheckConstraint(_in("kind", DRAW_KINDS), name="kind"),
        CheckConstraint(_in("status", DRAW_STATUSES), name="status"),
        CheckConstraint("(kind = 'initial') = (parent_id is null)", name="parent_iff_not_initial"),
        CheckConstraint("evaluation_starts_at < evaluation_ends_at", name="evaluation_period"),
        CheckConstraint("octet_length(seed) = 32", name="seed_length"),
        CheckConstraint(
            "(status in ('sealed', 'revealed')) <= (result is not null and selected_at is not null)",
            name="selected_has_result",
        ),
        CheckConstraint("(status = 'revealed') <= (revealed_at is not null)", name="revealed_at"),
        CheckConstraint("(status = 'void') = (voided_at is not null)", name="voided_at"),
        # A lot has one initial draw (a failed one may be followed by another), and one live
        # committee draw at a time: a new panel only through a re-draw of the old one.
        Index(
            "uq_draws_initial_per_lot",
            "lot_id",
            unique=True,
            postgresql_where=text("kind = 'initial' and status <> 'failed'"),
        ),
        Index(
            "uq_draws_live_per_lot",
            "lot_id",
            unique=True,
            postgresql_where=text("kind <> 'supplementary' and status in ('committed', 'sealed', 'revealed')"),
        ),
        UniqueConstraint("idempotency_client", "idempotency_key"),
        # Repeat service for the same tenderee (avoidance rule same_tenderee).
        Index("ix_draws_tenderee_selected", "tenderee_credit_code", "selected_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("draws.id"), index=True)
    lot_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    project_code: Mapped[str] = mapped_column(String(32))
    platform: Mapped[str] = mapped_column(String(32))
    law: Mapped[str] = mapped_column(String(32))
    tenderee_credit_code: Mapped[str] = mapped_column(String(18))
    evaluation_starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    evaluation_ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    remote: Mapped[bool] = mapped_column(Boolean)
    # The canonical request document (docs/draw.md §2) and its SHA-256: what the selection is bound to.
    request: Mapped[dict[str, Any]] = mapped_column(JSONB)
    request_digest: Mapped[str] = mapped_column(String(64))
    members_required: Mapped[int] = mapped_column(Integer)
    reserves_required: Mapped[int] = mapped_column(Integer)
    # Who asked: the token's subject (and the key it sent), and the staff member named in the request.
    idempotency_client: Mapped[str] = mapped_column(String(128))
    idempotency_key: Mapped[str] = mapped_column(String(128))
    idempotency_digest: Mapped[str] = mapped_column(String(64))
    requested_by: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    # 32 random bytes; secret until revealed. ``commitment`` = SHA-256(seed), public from the start.
    seed: Mapped[bytes] = mapped_column(LargeBinary)
    commitment: Mapped[str] = mapped_column(String(64))
    committed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("clock_timestamp()"))
    snapshot_sha256: Mapped[str | None] = mapped_column(String(64))
    # {specialty: {"candidates": n, "eligible": n, "excluded": {rule: n}}}
    exclusions: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    credit_on: Mapped[date | None] = mapped_column(Date)
    credit_checked: Mapped[int | None] = mapped_column(Integer)
    # Experts of the snapshot set aside during the draw, with the reason: "credit_banned" (found
    # banned by supervision) or the rule that excluded them when judged again before selecting.
    skipped: Mapped[dict[str, str] | None] = mapped_column(JSONB)
    # [{"specialty", "members": [ids], "reserves": [ids]}] in request order: the selection as made.
    result: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    result_sha256: Mapped[str | None] = mapped_column(String(64))
    failure: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    selected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revealed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revealed_by: Mapped[str | None] = mapped_column(String(128))
    voided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    voided_by: Mapped[str | None] = mapped_column(String(128))
    void_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("clock_timestamp()"))


class DrawSnapshot(Base):
    """The eligible experts of one specialty line as the selection saw them: their ids in canonical
    text, sorted, joined by commas. Text, not uuid[]: written once, read whole, never queried by
    element, and a pool's 30,000 ids cost ~3 ms as text against ~30 ms as an array (measured);
    the migration stores it uncompressed (random ids do not compress)."""

    __tablename__ = "draw_snapshots"

    draw_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("draws.id"), primary_key=True)
    specialty_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    specialty: Mapped[str] = mapped_column(String(16))
    expert_ids: Mapped[str] = mapped_column(Text)


class DrawAssignment(Base):
    """One expert drawn: a member or a reserve of a specialty, at a position in draw order."""

    __tablename__ = "draw_assignments"
    __table_args__ = (
        CheckConstraint(_in("role", ASSIGNMENT_ROLES), name="role"),
        CheckConstraint(_in("status", ASSIGNMENT_STATUSES), name="status"),
        CheckConstraint("position >= 1", name="position"),
        CheckConstraint("(status = 'declined') = (decline_reason is not null)", name="decline_reason"),
        UniqueConstraint("draw_id", "expert_id"),
        UniqueConstraint("draw_id", "specialty", "position"),
        # "Already committed" looks up an expert's live assignments.
        Index("ix_draw_assignments_expert_status", "expert_id", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    draw_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("draws.id"), index=True)
    expert_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("experts.id"))
    specialty: Mapped[str] = mapped_column(String(16))
    specialty_index: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    venue_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # The member a promoted reserve replaces.
    replaces_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("draw_assignments.id"))
    notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    responded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decline_reason: Mapped[str | None] = mapped_column(Text)
    no_show_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("clock_timestamp()"))


class ExpertNotification(Base):
    """A message owed to an expert; delivered at least once by the notification loop."""

    __tablename__ = "expert_notifications"
    __table_args__ = (
        CheckConstraint(_in("kind", NOTIFICATION_KINDS), name="kind"),
        Index("ix_expert_notifications_unsent", "id", postgresql_where=text("sent_at is null")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    expert_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("experts.id"), index=True)
    assignment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("draw_assignments.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("clock_timestamp()"))
    # A delivery in progress holds the row until then; a crashed sender's claim lapses.
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(Text)
    channel: Mapped[str | None] = mapped_column(String(32))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
