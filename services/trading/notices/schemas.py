from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field, field_validator

from services.trading.documents.schemas import DocumentOut
from shared.schemas import RequestModel


class NoticeCreate(RequestModel):
    title: str = Field(min_length=2, max_length=200)
    body: str = Field(min_length=1, max_length=100_000, description="the notice text (plain text)")
    lot_ids: list[uuid.UUID] = Field(min_length=1, max_length=100, description="lots of the project it announces")

    @field_validator("lot_ids")
    @classmethod
    def _unique(cls, value: list[uuid.UUID]) -> list[uuid.UUID]:
        if len(set(value)) != len(value):
            raise ValueError("lot ids must be unique")
        return value


class ClarificationCreate(RequestModel):
    body: str = Field(min_length=1, max_length=100_000, description="what is clarified or amended (plain text)")


class ClarificationPublish(RequestModel):
    new_bid_deadline: AwareDatetime | None = Field(
        default=None,
        description="required when fewer than 15 days remain before the bid deadline: at least 15 days "
        "after issue (招标投标法实施条例 第二十一条); deadlines only move later",
    )


class ObjectionCreate(RequestModel):
    body: str = Field(min_length=5, max_length=20_000, description="what is objected to and why")


class ObjectionReply(RequestModel):
    reply: str = Field(min_length=1, max_length=20_000)


class NoticeLotOut(BaseModel):
    id: uuid.UUID
    lot_no: int
    name: str
    documents_from: datetime
    documents_until: datetime
    bid_deadline: datetime
    status: str


class ClarificationOut(BaseModel):
    id: uuid.UUID
    lot_id: uuid.UUID
    notice_id: uuid.UUID
    body: str
    status: Literal["draft", "published"]
    created_at: datetime
    issued_at: datetime | None
    previous_bid_deadline: datetime | None = Field(description="set when issuing moved the bid deadline")
    new_bid_deadline: datetime | None
    documents: list[DocumentOut]


class NoticeSummary(BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    project_code: str
    project_name: str
    platform: str
    category_code: str
    title: str
    status: Literal["draft", "published"]
    tender_status: Literal["open", "suspended", "closed"] = Field(
        description="suspended while an objection awaits its reply; open until the last bid deadline; then closed"
    )
    published_at: datetime | None
    lots: list[NoticeLotOut]


class NoticeOut(NoticeSummary):
    body: str
    created_at: datetime
    documents: list[DocumentOut]
    clarifications: list[ClarificationOut]


class ObjectionOut(BaseModel):
    id: uuid.UUID
    lot_id: uuid.UUID
    project_id: uuid.UUID
    objector_org: str | None = Field(
        description="shown to the objector itself, and to others only after the bid deadline "
        "(电子招标投标办法 第二十一条)"
    )
    body: str
    status: Literal["pending", "replied"]
    filed_at: datetime
    reply_due_at: datetime
    overdue: bool = Field(description="pending past its reply deadline (3 days, 条例 第二十二条)")
    reply: str | None
    replied_at: datetime | None


class NotificationOut(BaseModel):
    id: uuid.UUID
    kind: Literal["clarification"]
    lot_id: uuid.UUID
    notice_id: uuid.UUID
    clarification_id: uuid.UUID
    message: str
    created_at: datetime
    read_at: datetime | None
