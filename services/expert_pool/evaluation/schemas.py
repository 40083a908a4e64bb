"""Request and response bodies of the evaluation API. Requests inherit RequestModel (unknown fields
and NUL characters refused)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field

from services.expert_pool.evaluation.models import CorrectionReason, MisconductCategory
from shared.contracts.experts import VenueSeats
from shared.schemas import RequestModel

SHA256_HEX = r"^[0-9a-f]{64}$"
# Device ids and evidence references are shown in reports; keep them to printable, unspaced text.
DEVICE_ID = r"^[A-Za-z0-9._:/-]{1,128}$"


class SessionCreate(RequestModel):
    """Open the evaluation of an opened lot. ``venues``: one main venue (主场), any sub-venues (副场),
    the same venues the draw was requested with."""

    lot_id: uuid.UUID
    venues: list[VenueSeats] = Field(min_length=1, max_length=20)


class Attestation(RequestModel):
    """The venue device's identity verification (face capture etc.) of the expert checking in."""

    device_id: str = Field(pattern=DEVICE_ID)
    method: Literal["face", "face_and_id_card", "id_card", "fingerprint"]
    result: Literal["passed", "failed"]
    attested_at: AwareDatetime
    evidence_ref: str = Field(min_length=1, max_length=500)
    evidence_sha256: str = Field(pattern=SHA256_HEX)


class CheckInIn(RequestModel):
    venue_id: uuid.UUID
    attestation: Attestation


class LeaderVoteIn(RequestModel):
    candidate_expert_id: uuid.UUID


class LeaderRecordIn(RequestModel):
    expert_id: uuid.UUID
    note: str = Field(min_length=2, max_length=2000, description="how the committee chose (e.g. 推举一致)")


class ScoreEntry(RequestModel):
    bid_id: uuid.UUID
    criterion: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    # At most two decimals, within [0, the criterion's weight] (checked against the lot's method).
    points: Decimal = Field(ge=0, le=100, max_digits=5, decimal_places=2)


class SheetIn(RequestModel):
    """A member's whole score sheet; submitting it is the member's signature. Lowest evaluated price
    lots have no subjective criteria: the sheet is empty and signs the compliance review."""

    scores: list[ScoreEntry] = Field(max_length=20_000)


class CorrectionIn(RequestModel):
    reason: CorrectionReason
    explanation: str = Field(min_length=5, max_length=2000)
    scores: list[ScoreEntry] = Field(max_length=20_000)


class DecisionIn(RequestModel):
    approve: bool
    note: str = Field(min_length=2, max_length=2000)


class RejectionIn(RequestModel):
    bid_id: uuid.UUID
    reason: str = Field(min_length=5, max_length=2000)
    basis: str = Field(min_length=2, max_length=500, description="the article relied on, e.g. 条例 第五十一条（三）")


class RejectionVoteIn(RequestModel):
    agree: bool
    note: str | None = Field(default=None, max_length=2000)


class PauseIn(RequestModel):
    reason: str = Field(min_length=5, max_length=2000)


class RatingIn(RequestModel):
    expert_id: uuid.UUID
    score: int = Field(ge=1, le=5)
    comment: str = Field(min_length=1, max_length=2000)


class MisconductIn(RequestModel):
    expert_id: uuid.UUID
    category: MisconductCategory
    description: str = Field(min_length=10, max_length=4000)
    evidence_sha256: str = Field(pattern=SHA256_HEX)
    evidence_ref: str = Field(min_length=1, max_length=500)


# -- responses ------------------------------------------------------------------------------------


class VenueOut(BaseModel):
    venue_id: uuid.UUID
    platform: str
    role: str
    seats: int


class MemberOut(BaseModel):
    expert_id: uuid.UUID
    name: str
    specialty: str
    venue_id: uuid.UUID | None
    status: str
    checked_in_at: datetime | None
    leader: bool
    sheet_version: int | None
    sheet_sha256: str | None
    sheet_submitted_at: datetime | None


class PauseOut(BaseModel):
    id: uuid.UUID
    phase: str
    reason: str
    limit_minutes: int
    paused_at: datetime
    ended_at: datetime | None
    outcome: str | None


class RejectionOut(BaseModel):
    id: uuid.UUID
    bid_id: uuid.UUID
    reason: str
    basis: str
    status: str
    proposed_at: datetime
    decided_at: datetime | None
    agree: int
    disagree: int


class SessionOut(BaseModel):
    """An evaluation. ``members`` is empty for callers that may not know the committee before the
    result (trading's service token, the agency): the list is confidential until then
    (招标投标法 第三十七条); they see ``members_total`` and ``checked_in`` only."""

    id: uuid.UUID
    lot_id: uuid.UUID
    platform: str
    project_code: str
    law: str
    method: str
    status: str
    paused_from: str | None
    opening_sha256: str
    venues: list[VenueOut]
    members_total: int
    checked_in: int
    members: list[MemberOut]
    leader_chosen_by: str | None
    rejections: list[RejectionOut]
    pauses: list[PauseOut]
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    sealed_at: datetime | None
    seal_reason: str | None


class CheckInOut(BaseModel):
    id: uuid.UUID
    expert_id: uuid.UUID
    venue_id: uuid.UUID
    result: str
    recorded_at: datetime


class LeaderOut(BaseModel):
    round: int
    votes: dict[str, int]
    leader_expert_id: uuid.UUID | None
    chosen_by: str | None


class SheetOut(BaseModel):
    expert_id: uuid.UUID
    version: int
    document: dict[str, Any]
    sha256: str
    submitted_at: datetime
    void_reason: str | None


class CorrectionOut(BaseModel):
    id: uuid.UUID
    expert_id: uuid.UUID
    reason: str
    explanation: str
    status: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None
    new_sheet_sha256: str | None


class BidsOut(BaseModel):
    """The opened bids every member scores: trading's opening result as fetched once, its SHA-256,
    the method and the rejections adopted so far."""

    opening_sha256: str
    opening: dict[str, Any]
    method: str
    criteria: list[dict[str, Any]]
    rejected_bid_ids: list[uuid.UUID]


class ResultsOut(BaseModel):
    method: str
    complete: bool
    missing_sheets: list[uuid.UUID]
    pending_rejections: list[uuid.UUID]
    ranked: list[dict[str, Any]]
    candidates: list[dict[str, Any]]
    deviations: list[dict[str, Any]]


class ReportOut(BaseModel):
    evaluation_id: uuid.UUID
    report: dict[str, Any]
    report_sha256: str
    completed_at: datetime
    delivered_at: datetime | None
    delivery_attempts: int
    last_error: str | None


class RatingOut(BaseModel):
    id: uuid.UUID
    expert_id: uuid.UUID
    score: int
    comment: str
    organisation: str
    rated_at: datetime


class MisconductOut(BaseModel):
    id: uuid.UUID
    expert_id: uuid.UUID
    category: str
    evidence_sha256: str
    reported_at: datetime
