from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    ARRAY,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.expert_pool.db import Base

EXPERT_STATUSES = ("active", "suspended", "removed")
TITLE_LEVELS = ("senior", "associate_senior", "intermediate", "other")
CONFLICT_KINDS = ("relative", "shareholding", "directorship", "other")


class Specialty(Base):
    """评标专业: a code list kept as data, edited by city operators."""

    __tablename__ = "specialties"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("specialties.code"))
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))


class Expert(Base):
    """One evaluation expert (评标专家).

    The resident ID number is personal information: it is stored only encrypted (AES-256-GCM,
    ``id_number_ciphertext``), found by a keyed hash (``id_number_hmac``, so one person cannot be
    registered twice) and shown only masked (``id_number_masked``)."""

    __tablename__ = "experts"
    __table_args__ = (
        CheckConstraint(f"title_level in ({', '.join(repr(t) for t in TITLE_LEVELS)})", name="title_level"),
        CheckConstraint(f"status in ({', '.join(repr(s) for s in EXPERT_STATUSES)})", name="status"),
        CheckConstraint("years_experience >= 0", name="years_non_negative"),
        CheckConstraint("(status = 'active') = (status_reason is null)", name="status_reason"),
        # The draw's candidate scan: active experts by specialty.
        Index("ix_experts_specialties", "specialties", postgresql_using="gin"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    platform: Mapped[str] = mapped_column(String(32), index=True)
    # GB/T 2260 code of the expert's home region; remote evaluation may require experts from outside
    # the project's region.
    region_code: Mapped[str] = mapped_column(String(6))
    name: Mapped[str] = mapped_column(String(50))
    id_number_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    id_number_hmac: Mapped[str] = mapped_column(String(64), unique=True)
    id_number_masked: Mapped[str] = mapped_column(String(18))
    # The portal account (token ``sub``) the expert signs in with, to see their own assignments.
    account_subject: Mapped[str | None] = mapped_column(String(128), unique=True)
    phone: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(100))
    title_level: Mapped[str] = mapped_column(String(32))
    years_experience: Mapped[int] = mapped_column(Integer)
    specialties: Mapped[list[str]] = mapped_column(ARRAY(String(16)))
    # The current employer; past employers are in expert_employments.
    employer_credit_code: Mapped[str] = mapped_column(String(18), index=True)
    employer_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), server_default=text("'active'"))
    status_reason: Mapped[str | None] = mapped_column(String(500))
    status_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("clock_timestamp()"))


class ExpertEmployment(Base):
    """Where an expert worked and when: avoidance covers employees of the tenderee, agency or a
    bidder now and within 3 years (domain §3). ``ended_on`` null means current."""

    __tablename__ = "expert_employments"
    __table_args__ = (CheckConstraint("ended_on is null or started_on <= ended_on", name="period"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    expert_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("experts.id"), index=True)
    employer_credit_code: Mapped[str] = mapped_column(String(18), index=True)
    employer_name: Mapped[str] = mapped_column(String(200))
    started_on: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)


class ExpertConflict(Base):
    """A declared interest (close relative working there, shareholding, directorship) in an
    organisation: the draw avoids the expert whenever that organisation takes part."""

    __tablename__ = "expert_conflicts"
    __table_args__ = (CheckConstraint(f"kind in ({', '.join(repr(k) for k in CONFLICT_KINDS)})", name="kind"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    expert_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("experts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    organisation_credit_code: Mapped[str] = mapped_column(String(18), index=True)
    description: Mapped[str] = mapped_column(String(500))
    declared_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("clock_timestamp()"))


class ExpertUnavailability(Base):
    """A period the expert cannot evaluate (travel, illness): never drawn for a time inside it."""

    __tablename__ = "expert_unavailability"
    __table_args__ = (CheckConstraint("starts_at < ends_at", name="period"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    expert_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("experts.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(String(500))
