"""Bodies of the draw API other than the contract with trading (shared/contracts/experts.py)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal, Self

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints, model_validator

from shared.contracts.experts import DrawSummary
from shared.schemas import RequestModel

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=1000)]


class RedrawIn(RequestModel):
    """Why the draw is replaced; new evaluation times when the committee is re-formed for a later
    sitting (e.g. after a remote evaluation was sealed)."""

    reason: Reason
    requested_by: str | None = Field(default=None, min_length=1, max_length=128)
    evaluation_starts_at: AwareDatetime | None = None
    evaluation_ends_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> Self:
        if (self.evaluation_starts_at is None) != (self.evaluation_ends_at is None):
            raise ValueError("give both evaluation_starts_at and evaluation_ends_at, or neither")
        return self


class SupplementaryIn(RequestModel):
    reason: Reason
    requested_by: str | None = Field(default=None, min_length=1, max_length=128)


class RevealIn(RequestModel):
    """What decided the result, e.g. 评标报告已提交."""

    reason: Reason


class DeclineIn(RequestModel):
    """回避 or unable to attend, in the expert's words (kept with the draw, seen by supervisors)."""

    reason: Reason


class NoShowIn(RequestModel):
    reason: Reason


class AssignmentOut(BaseModel):
    """An expert's own assignment: where and when, and the answer given. Nothing about others."""

    id: uuid.UUID
    draw_id: uuid.UUID
    lot_id: uuid.UUID
    project_code: str
    specialty: str
    status: Literal["pending", "accepted", "declined", "no_show", "cancelled"]
    evaluation_starts_at: datetime
    evaluation_ends_at: datetime
    venue_id: uuid.UUID | None
    notified_at: datetime
    responded_at: datetime | None


class CommitteeEntryOut(BaseModel):
    """One drawn expert as shown after the result is decided (names, never ID numbers or phones)."""

    assignment_id: uuid.UUID
    expert_id: uuid.UUID
    name: str
    specialty: str
    role: Literal["member", "reserve"]
    position: int
    status: str
    venue_id: uuid.UUID | None
    replaces: uuid.UUID | None


class CommitteeOut(BaseModel):
    draw_id: uuid.UUID
    lot_id: uuid.UUID
    kind: str
    status: str
    revealed_at: datetime
    entries: list[CommitteeEntryOut]


class DrawDetail(DrawSummary):
    """A draw as platform staff and supervisors follow it: its history and counts, never names."""

    project_code: str
    platform: str
    parent_id: uuid.UUID | None
    reason: str | None
    requested_by: str
    request_digest: str
    snapshot_sha256: str | None
    result_sha256: str | None
    exclusions: dict[str, Any] | None
    credit_on: date | None
    credit_checked: int | None
    credit_banned: int
    failure: dict[str, Any] | None
    selected_at: datetime | None
    revealed_at: datetime | None
    voided_at: datetime | None
    void_reason: str | None


class DrawRecord(BaseModel):
    """Everything needed to recompute the selection offline (docs/draw.md §5), published once the
    seed is revealed."""

    format: Literal["jincheng-draw-record/1"] = "jincheng-draw-record/1"
    draw_id: uuid.UUID
    lot_id: uuid.UUID
    kind: str
    parent_id: uuid.UUID | None
    status: str
    seed: str
    commitment: str
    request: dict[str, Any]
    request_digest: str
    snapshot: list[dict[str, Any]]
    snapshot_sha256: str
    skipped: dict[str, str]
    credit: dict[str, Any]
    exclusions: dict[str, Any]
    result: list[dict[str, Any]]
    result_sha256: str
    committed_at: datetime
    selected_at: datetime
    revealed_at: datetime


class VerifyOut(BaseModel):
    """The draw recomputed from its stored record: every check and whether all hold."""

    draw_id: uuid.UUID
    match: bool
    checks: dict[str, bool]
