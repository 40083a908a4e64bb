from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, Field, field_validator

from shared.contracts.experts import Candidate, DrawSummary, RejectedBid, SpecialtyCount, VenueSeats
from shared.credit_code import InvalidCreditCode, validate_credit_code
from shared.schemas import RequestModel


def _credit_code(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return validate_credit_code(value)
    except InvalidCreditCode as exc:
        raise ValueError(str(exc)) from None


class ExpertDrawIn(RequestModel):
    """What the organiser decides about the committee; trading adds the lot, its law, budget,
    region and the bidders (known only after the deadline) before asking the expert pool."""

    specialties: list[SpecialtyCount] = Field(min_length=1, max_length=20)
    evaluation_starts_at: AwareDatetime
    evaluation_ends_at: AwareDatetime
    tenderee_credit_code: str
    agency_credit_code: str | None = None
    remote: bool = False
    venues: list[VenueSeats] = Field(default_factory=list, max_length=20)
    experts_outside_region: bool = False

    _codes = field_validator("tenderee_credit_code", "agency_credit_code")(_credit_code)


class ExpertDrawOut(BaseModel):
    request_id: uuid.UUID
    requested_at: datetime
    draw: DrawSummary


class EvaluationReportOut(BaseModel):
    lot_id: uuid.UUID
    evaluation_id: uuid.UUID
    method: str
    candidates: list[Candidate]
    rejected: list[RejectedBid]
    report: dict[str, Any]
    report_sha256: str
    completed_at: datetime
    received_at: datetime
