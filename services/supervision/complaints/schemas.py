from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from shared.schemas import RequestModel

Matter = Literal["tender_documents", "opening", "evaluation_result", "other"]


class ComplaintCreate(RequestModel):
    lot_id: uuid.UUID
    matter: Matter
    facts: str = Field(min_length=10, max_length=20_000, description="what happened, with evidence")
    request: str = Field(min_length=2, max_length=5_000, description="what the complainant asks for")
    knew_on: date = Field(description="the day the complainant knew or should have known (知道或者应当知道之日)")
    objection_ref: str | None = Field(default=None, max_length=128, description="the objection/challenge filed first")
    objection_filed_on: date | None = None
    objection_replied_on: date | None = None


class Refusal(RequestModel):
    reason: str = Field(min_length=5, max_length=5_000)


class Decision(RequestModel):
    decision: str = Field(min_length=2, max_length=5_000)
    reasons: str = Field(min_length=5, max_length=20_000)


class SuspensionRequest(RequestModel):
    reason: str = Field(min_length=5, max_length=2_000)


class ComplaintOut(BaseModel):
    id: uuid.UUID
    platform: str
    lot_id: uuid.UUID
    project_id: uuid.UUID
    law: str
    matter: str
    complainant_org: str
    facts: str
    request: str
    knew_on: date
    objection_ref: str | None
    objection_filed_on: date | None
    objection_replied_on: date | None
    filed_at: datetime
    status: str
    accept_due_on: date
    decide_due_on: date | None
    overdue: bool = Field(description="an answer the law requires is late (受理 or 处理决定)")
    refusal_reason: str | None
    decision: str | None
    decision_reasons: str | None
    decided_at: datetime | None
    published_at: datetime | None
    lot_suspended: bool


class PublishedDecision(BaseModel):
    id: uuid.UUID
    platform: str
    lot_id: uuid.UUID
    project_id: uuid.UUID
    matter: str
    decision: str
    decision_reasons: str
    decided_at: datetime
    published_at: datetime
