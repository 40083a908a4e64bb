"""What the expert pool and its callers exchange: the specialty list, draw requests and the
evaluation report it returns to trading."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field

from shared.contracts.trading import Law
from shared.schemas import RequestModel


class Specialty(BaseModel):
    """One code of the specialty list (评标专业) that draws are requested by."""

    code: str
    name: str
    parent_code: str | None
    active: bool


class SpecialtyCount(RequestModel):
    specialty: str = Field(max_length=16)
    count: int = Field(ge=1, le=50)
    # Drawn after the members, in draw order; they replace decliners and no-shows in that order.
    reserves: int = Field(default=0, ge=0, le=50)


class VenueSeats(RequestModel):
    """A venue of a remote cross-site evaluation (远程异地评标): one main venue, any sub-venues."""

    venue_id: uuid.UUID
    platform: str = Field(max_length=32)
    role: Literal["main", "sub"]
    seats: int = Field(ge=1, le=100)


class DrawRequest(RequestModel):
    """Trading asks for a committee for one lot (service token with scope ``experts:draw``).

    Credit codes are those avoidance compares with experts' employers and declared conflicts."""

    lot_id: uuid.UUID
    project_code: str = Field(max_length=32)
    platform: str = Field(max_length=32)
    region_code: str = Field(pattern=r"^[0-9]{6}$")
    law: Law
    budget_fen: int = Field(ge=0, le=10**15)
    evaluation_starts_at: AwareDatetime
    evaluation_ends_at: AwareDatetime
    specialties: list[SpecialtyCount] = Field(min_length=1, max_length=20)
    tenderee_credit_code: str = Field(min_length=18, max_length=18)
    agency_credit_code: str | None = Field(default=None, min_length=18, max_length=18)
    bidder_credit_codes: list[str] = Field(max_length=500)
    remote: bool = False
    venues: list[VenueSeats] = Field(default_factory=list, max_length=20)
    experts_outside_region: bool = False
    # The staff member on whose behalf trading asks (the draw record names them).
    requested_by: str = Field(min_length=1, max_length=128)


class DrawSummary(BaseModel):
    """A draw as trading, the tenderee and the agency see it before the result: counts and status,
    never names (the list is confidential until the result is decided, 招标投标法 第三十七条)."""

    id: uuid.UUID
    lot_id: uuid.UUID
    kind: Literal["initial", "redraw", "supplementary"]
    status: str
    commitment: str
    members_required: int
    accepted: int
    pending: int
    declined: int
    reserves_left: int
    created_at: datetime


class Candidate(BaseModel):
    rank: int = Field(ge=1, le=3)
    bid_id: uuid.UUID
    bidder_credit_code: str
    # Comprehensive scoring: the committee's mean total; lowest evaluated price: None.
    score: Decimal | None
    evaluated_price_fen: int


class RejectedBid(BaseModel):
    bid_id: uuid.UUID
    reason: str


class EvaluationReport(RequestModel):
    """The committee's report (评标报告), returned to trading: up to three ranked candidates, the
    rejected bids, and the whole report (every sheet, signatures, deviation marks) with its digest."""

    evaluation_id: uuid.UUID
    lot_id: uuid.UUID
    method: Literal["comprehensive_scoring", "lowest_evaluated_price"]
    candidates: list[Candidate] = Field(max_length=3)
    rejected: list[RejectedBid]
    report: dict[str, Any]
    report_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    completed_at: AwareDatetime
