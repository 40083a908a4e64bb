"""Tables of a remote evaluation (远程异地评标). Nothing here is ever updated in place where the law
wants a trace: check-ins, votes, sheet versions, corrections and pauses are rows of their own."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal, get_args

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.expert_pool.db import Base

# checkin: members arrive, check in and elect a leader; scoring: started, sheets are entered;
# paused: an outage (paused_from says which of the two it interrupted); completed: the report is
# signed; sealed: stopped for good (outage over the limit), a new committee must be drawn.
SESSION_STATUSES = ("checkin", "scoring", "paused", "completed", "sealed")
# What a submitted sheet may be corrected for (87号令 第六十四条): a summing error; a score outside
# the scoring rules or on a factor the criteria do not contain; an objective factor misread (scored
# differently from the committee); a score the committee finds abnormally high or low.
CorrectionReason = Literal["arithmetic_error", "outside_criteria", "objective_factor_misread", "abnormal_score"]
CORRECTION_REASONS: tuple[str, ...] = get_args(CorrectionReason)
# 招标投标法实施条例 第七十一条, 政府采购法实施条例 第七十五条: what an expert may be reported for.
MisconductCategory = Literal[
    "failed_to_avoid",  # 应当回避而不回避
    "left_post",  # 擅离职守
    "not_by_criteria",  # 不按照招标文件规定的评标标准和方法评标
    "private_contact",  # 私下接触投标人
    "improper_request",  # 征询确定中标人的意向, 或接受倾向、排斥特定投标人的要求
    "unfair_treatment",  # 对依法应当否决的投标不提出否决意见, 或不客观公正履行职务
    "bribery",  # 收受投标人的财物或者其他好处
    "disclosure",  # 泄露评审情况
    "other",
]
MISCONDUCT_CATEGORIES: tuple[str, ...] = get_args(MisconductCategory)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} in ({', '.join(repr(v) for v in values)})"


def _now() -> Any:
    return text("clock_timestamp()")


class EvaluationSession(Base):
    """One evaluation of one lot. A sealed session stays as the record of what happened; the next
    committee of the lot gets a new session (one open session per lot)."""

    __tablename__ = "evaluation_sessions"
    __table_args__ = (
        CheckConstraint(_in("status", SESSION_STATUSES), name="status"),
        CheckConstraint("paused_from is null or paused_from in ('checkin', 'scoring')", name="paused_from"),
        CheckConstraint("(status = 'paused') = (paused_from is not null)", name="paused_from_when_paused"),
        CheckConstraint("method in ('comprehensive_scoring', 'lowest_evaluated_price')", name="method"),
        Index(
            "uq_evaluation_sessions_open_lot",
            "lot_id",
            unique=True,
            postgresql_where=text("status <> 'sealed'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    lot_id: Mapped[uuid.UUID] = mapped_column(index=True)
    # From trading's lot summary: where the lot trades (tenancy), its law and its organisers.
    platform: Mapped[str] = mapped_column(String(32), index=True)
    project_id: Mapped[uuid.UUID]
    project_code: Mapped[str] = mapped_column(String(32))
    law: Mapped[str] = mapped_column(String(32))
    tenderee_org: Mapped[str] = mapped_column(String(64))
    agency_org: Mapped[str | None] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(32))
    # The opening result as trading returned it, fetched once; every member scores these bytes.
    opening: Mapped[dict[str, Any]] = mapped_column(JSONB)
    opening_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), server_default=text("'checkin'"))
    paused_from: Mapped[str | None] = mapped_column(String(16))
    leader_member_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("evaluation_members.id", use_alter=True, name="fk_evaluation_sessions_leader_member_id")
    )
    leader_chosen_by: Mapped[str | None] = mapped_column(String(16))
    # Raised when the leader is replaced: votes of earlier rounds no longer count.
    leader_round: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sealed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    seal_reason: Mapped[str | None] = mapped_column(String(500))


class EvaluationVenue(Base):
    """主场 (main) or 副场 (sub) venue of the session, on the platform that runs it."""

    __tablename__ = "evaluation_venues"
    __table_args__ = (
        CheckConstraint("role in ('main', 'sub')", name="role"),
        CheckConstraint("seats > 0", name="seats_positive"),
        UniqueConstraint("session_id", "venue_id"),
        Index("uq_evaluation_venues_one_main", "session_id", unique=True, postgresql_where=text("role = 'main'")),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("evaluation_sessions.id"))
    venue_id: Mapped[uuid.UUID]
    platform: Mapped[str] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(8))
    seats: Mapped[int] = mapped_column(Integer)


class EvaluationMember(Base):
    """A committee member as the draw's accepted committee named them. ``replaced`` members' sheets
    and votes are void (条例 第四十八条; 87号令 第四十九条)."""

    __tablename__ = "evaluation_members"
    __table_args__ = (
        CheckConstraint("status in ('active', 'replaced')", name="status"),
        UniqueConstraint("session_id", "expert_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("evaluation_sessions.id"), index=True)
    expert_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("experts.id"), index=True)
    # The draw's assignment (owned by the draws module; no foreign key across the two features).
    assignment_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(50))
    specialty: Mapped[str] = mapped_column(String(16))
    venue_id: Mapped[uuid.UUID | None]
    status: Mapped[str] = mapped_column(String(16), server_default=text("'active'"))
    checked_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    replaced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    joined_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class EvaluationCheckIn(Base):
    """One identity attestation from a venue device, passed or failed: both are kept."""

    __tablename__ = "evaluation_check_ins"
    __table_args__ = (CheckConstraint("result in ('passed', 'failed')", name="result"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("evaluation_sessions.id"), index=True)
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("evaluation_members.id"), index=True)
    venue_id: Mapped[uuid.UUID]
    device_id: Mapped[str] = mapped_column(String(128))
    method: Mapped[str] = mapped_column(String(16))
    result: Mapped[str] = mapped_column(String(8))
    # The device's clock, as it reports it; recorded_at is ours.
    attested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    evidence_ref: Mapped[str] = mapped_column(String(500))
    evidence_sha256: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class LeaderVote(Base):
    __tablename__ = "evaluation_leader_votes"
    __table_args__ = (UniqueConstraint("session_id", "round", "voter_member_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("evaluation_sessions.id"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    voter_member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("evaluation_members.id"))
    candidate_member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("evaluation_members.id"))
    cast_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class ScoreSheet(Base):
    """A member's signed sheet (评分表). Version 1 is the submission; each approved correction adds
    the next version and closes the previous one (``superseded_at``). ``void_reason`` is set when
    the member is replaced."""

    __tablename__ = "evaluation_score_sheets"
    __table_args__ = (
        UniqueConstraint("session_id", "member_id", "version"),
        Index(
            "uq_evaluation_score_sheets_current",
            "member_id",
            unique=True,
            postgresql_where=text("superseded_at is null"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("evaluation_sessions.id"), index=True)
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("evaluation_members.id"))
    version: Mapped[int] = mapped_column(Integer)
    # The canonical sheet document whose SHA-256 is ``sha256`` (docs/evaluation.md).
    document: Mapped[dict[str, Any]] = mapped_column(JSONB)
    sha256: Mapped[str] = mapped_column(String(64))
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    correction_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("evaluation_corrections.id"))
    superseded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    void_reason: Mapped[str | None] = mapped_column(String(200))


class Correction(Base):
    """A request to change a submitted sheet, for one of the reasons the law allows
    (87号令 第六十四条), decided by the leader or the operator."""

    __tablename__ = "evaluation_corrections"
    __table_args__ = (
        CheckConstraint(_in("reason", CORRECTION_REASONS), name="reason"),
        CheckConstraint("status in ('pending', 'approved', 'refused')", name="status"),
        Index(
            "uq_evaluation_corrections_one_pending",
            "member_id",
            unique=True,
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("evaluation_sessions.id"), index=True)
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("evaluation_members.id"))
    from_sheet_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("evaluation_score_sheets.id", use_alter=True))
    reason: Mapped[str] = mapped_column(String(32))
    explanation: Mapped[str] = mapped_column(String(2000))
    # The scores as they would stand after the correction (the whole sheet, canonical form).
    scores: Mapped[list[Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16), server_default=text("'pending'"))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_role: Mapped[str | None] = mapped_column(String(16))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_note: Mapped[str | None] = mapped_column(String(2000))


class Rejection(Base):
    """否决投标: proposed by a member, adopted or dismissed by a majority of the committee."""

    __tablename__ = "evaluation_rejections"
    __table_args__ = (
        CheckConstraint("status in ('proposed', 'adopted', 'dismissed')", name="status"),
        Index(
            "uq_evaluation_rejections_live_bid",
            "session_id",
            "bid_id",
            unique=True,
            postgresql_where=text("status <> 'dismissed'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("evaluation_sessions.id"), index=True)
    bid_id: Mapped[uuid.UUID]
    reason: Mapped[str] = mapped_column(String(2000))
    basis: Mapped[str] = mapped_column(String(500))
    proposed_by_member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("evaluation_members.id"))
    status: Mapped[str] = mapped_column(String(16), server_default=text("'proposed'"))
    proposed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RejectionVote(Base):
    __tablename__ = "evaluation_rejection_votes"
    __table_args__ = (UniqueConstraint("rejection_id", "member_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    rejection_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("evaluation_rejections.id"), index=True)
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("evaluation_members.id"))
    agree: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(String(2000))
    cast_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class Pause(Base):
    """An outage: when it began, in which phase, and how it ended (resumed or sealed)."""

    __tablename__ = "evaluation_pauses"
    __table_args__ = (
        CheckConstraint("phase in ('before_start', 'during')", name="phase"),
        CheckConstraint("outcome is null or outcome in ('resumed', 'sealed')", name="outcome"),
        CheckConstraint("(ended_at is null) = (outcome is null)", name="ended_with_outcome"),
        Index("uq_evaluation_pauses_open", "session_id", unique=True, postgresql_where=text("ended_at is null")),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("evaluation_sessions.id"), index=True)
    phase: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(2000))
    limit_minutes: Mapped[int] = mapped_column(Integer)
    paused_by: Mapped[str] = mapped_column(String(128))
    paused_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    ended_by: Mapped[str | None] = mapped_column(String(128))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str | None] = mapped_column(String(16))


class EvaluationReportRecord(Base):
    """The signed report (canonical JSON and its SHA-256) and its delivery to trading, retried
    until ``delivered_at`` is set."""

    __tablename__ = "evaluation_reports"
    __table_args__ = (
        Index("ix_evaluation_reports_pending", "next_attempt_at", postgresql_where=text("delivered_at is null")),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("evaluation_sessions.id"), unique=True)
    lot_id: Mapped[uuid.UUID]
    # The body sent to trading (shared.contracts.experts.EvaluationReport, JSON mode).
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    sha256: Mapped[str] = mapped_column(String(64))
    completed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(Text)
    # A deliverer claims a report by moving this forward, so two replicas rarely send it together
    # (sending twice is harmless: trading's PUT is idempotent).
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class ExpertRating(Base):
    """The agency's rating of a member's performance after the evaluation (1–5)."""

    __tablename__ = "expert_ratings"
    __table_args__ = (
        CheckConstraint("score between 1 and 5", name="score"),
        UniqueConstraint("session_id", "expert_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("evaluation_sessions.id"))
    expert_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("experts.id"), index=True)
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(String(2000))
    rated_by: Mapped[str] = mapped_column(String(128))
    organisation: Mapped[str] = mapped_column(String(64))
    rated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class MisconductReport(Base):
    """A report of an expert's misconduct; supervision receives it as the audit event
    ``expert.misconduct_reported`` carrying the evidence digest."""

    __tablename__ = "expert_misconduct_reports"
    __table_args__ = (CheckConstraint(_in("category", MISCONDUCT_CATEGORIES), name="category"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("evaluation_sessions.id"), index=True)
    expert_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("experts.id"), index=True)
    category: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(String(4000))
    evidence_sha256: Mapped[str] = mapped_column(String(64))
    evidence_ref: Mapped[str] = mapped_column(String(500))
    reported_by: Mapped[str] = mapped_column(String(128))
    reporter_role: Mapped[str] = mapped_column(String(16))
    organisation: Mapped[str | None] = mapped_column(String(64))
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
