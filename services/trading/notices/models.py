from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from services.trading.db import Base


class Notice(Base):
    """A tender notice (招标公告) of a project, covering one or more of its lots. Drafts are the
    organiser's; once published it is public (电子招标投标办法 第九条) and never edited: later
    changes are clarifications of its lots."""

    __tablename__ = "notices"
    __table_args__ = (
        CheckConstraint("status in ('draft','published')", name="status"),
        CheckConstraint("(status = 'published') = (published_at is not null)", name="published_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id"), index=True)
    # Copied from the project so the public list filters and pages on this table alone.
    platform: Mapped[str] = mapped_column(String(32), index=True)
    category_code: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="draft", server_default=text("'draft'"))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("clock_timestamp()"))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    published_by: Mapped[str | None] = mapped_column(String(128))


class NoticeLot(Base):
    __tablename__ = "notice_lots"

    notice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("notices.id"), primary_key=True)
    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lots.id"), primary_key=True, index=True)


class Clarification(Base):
    """A clarification or amendment (澄清/修改) of one lot's tender documents, with its deadline move."""

    __tablename__ = "clarifications"
    __table_args__ = (
        CheckConstraint("status in ('draft','published')", name="status"),
        CheckConstraint("(status = 'published') = (issued_at is not null)", name="issued_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lots.id"), index=True)
    # The published notice of the lot, which the clarification amends.
    notice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("notices.id"), index=True)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="draft", server_default=text("'draft'"))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("clock_timestamp()"))
    issued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    issued_by: Mapped[str | None] = mapped_column(String(128))
    # Set when issuing moved the bid deadline (条例 第二十一条): the record of the move.
    previous_bid_deadline: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    new_bid_deadline: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Objection(Base):
    """An objection to a lot's tender documents (异议, 条例 第二十二条): suspends the lot until answered."""

    __tablename__ = "objections"
    __table_args__ = (
        CheckConstraint("status in ('pending','replied')", name="status"),
        CheckConstraint("(status = 'replied') = (replied_at is not null and reply is not null)", name="replied"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lots.id"), index=True)
    objector_org: Mapped[str] = mapped_column(String(64), index=True)
    objector: Mapped[str] = mapped_column(String(128))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default=text("'pending'"))
    filed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reply_due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reply: Mapped[str | None] = mapped_column(Text)
    replied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    replied_by: Mapped[str | None] = mapped_column(String(128))


class Notification(Base):
    """A message stored for an organisation (pushed = stored for it; it reads them when it calls)."""

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint("kind in ('clarification')", name="kind"),
        UniqueConstraint("org", "clarification_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    org: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lots.id"))
    notice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("notices.id"))
    clarification_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clarifications.id"))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("clock_timestamp()"))
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    read_by: Mapped[str | None] = mapped_column(String(128))
