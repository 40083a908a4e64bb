"""Request and response bodies of the credit API (the service-to-service ones are in
:mod:`shared.contracts.credit`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints, ValidationInfo, field_validator

from shared.contracts.credit import CreditLaw, CreditSubject, SubjectKind, normalise_subject_id
from shared.credit_code import InvalidCreditCode, validate_credit_code
from shared.db import BIGINT_MAX
from shared.platforms import PLATFORMS
from shared.schemas import RequestModel

# Free text as people type it: surrounding blanks dropped, a single character is a slip.
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=100)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=1000)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=4000)]

Cursor = Annotated[int, Field(ge=0, le=BIGINT_MAX, description="the last id of the previous page; 0 for the first")]
PageSize = Annotated[int, Field(ge=1, le=500)]


class CreditRecordCreate(CreditSubject):
    """A decision against an organisation (by 统一社会信用代码) or an expert (by expert-pool id)."""

    subject_name: Name = Field(description="the organisation's or expert's name as in the decision")
    law: CreditLaw = Field(description="`government_procurement` bans must last 1 to 3 years")
    act: LongText = Field(description="the bad behaviour (不良行为) found")
    legal_basis: Reason = Field(description="articles relied on, e.g. 《政府采购法》第七十七条第一款第（二）项")
    decision: LongText = Field(description="what was decided (处理决定)")
    decision_number: Label = Field(description="the decision document's number (文号)")
    department: Label = Field(description="the deciding department (作出决定的部门)")
    decided_on: date
    ban_start: date | None = Field(default=None, description="first day of the ban; none for no ban")
    ban_end: date | None = Field(default=None, description="last day of the ban, inclusive; none for no end")

    @field_validator("ban_end")
    @classmethod
    def _ban_end_after_start(cls, value: date | None, info: ValidationInfo) -> date | None:
        if value is None:
            return value
        start = info.data.get("ban_start")
        if start is None:
            raise ValueError("禁止期限有终止日时须有起始日")
        if value < start:
            raise ValueError("禁止期限终止日不得早于起始日")
        return value


class CreditRecordRevoke(RequestModel):
    reason: Reason = Field(description="why the record no longer has effect, e.g. 经行政复议撤销")


class CreditDecisionOut(BaseModel):
    """The decision itself: what every reader of a record sees."""

    id: int
    platform: str
    subject_kind: SubjectKind
    subject_id: str
    subject_name: str
    law: CreditLaw
    act: str
    legal_basis: str
    decision: str
    decision_number: str
    department: str
    decided_on: date
    ban_start: date | None
    ban_end: date | None


class CreditRecordOut(CreditDecisionOut):
    published: bool
    published_at: datetime | None
    revoked: bool
    revoked_at: datetime | None
    revoke_reason: str | None
    created_by: str
    created_at: datetime


class CreditRecordPage(BaseModel):
    records: list[CreditRecordOut]
    next_after: int | None = Field(description="pass as `after` for the next page; null on the last page")


class PublicCreditRecordOut(CreditDecisionOut):
    """What the public sees of a published record: the decision, not the working data."""

    published_at: datetime


class PublicCreditRecordPage(BaseModel):
    records: list[PublicCreditRecordOut]
    next_after: int | None


def normalise_any_subject_id(value: str) -> str:
    """The normalised id of a subject named by its id alone: a UUID is an expert, anything else must
    be a 统一社会信用代码 (the forms cannot be confused: 32 hex digits against 18 characters)."""
    try:
        return normalise_subject_id("expert", value)
    except ValueError:
        pass
    try:
        return validate_credit_code(value)
    except InvalidCreditCode as exc:
        raise ValueError(f"应为统一社会信用代码或专家编号（UUID）：{exc}") from None


class CreditStatusQuery(CreditSubject):
    on: date | None = Field(default=None, description="the date to judge; default today in Asia/Shanghai")


class CreditRecordFilter(RequestModel):
    subject_id: str | None = Field(
        default=None, max_length=64, description="统一社会信用代码 or expert id; the kind follows from the form"
    )
    platform: str | None = Field(default=None, description="records of this platform only")
    active_on: date | None = Field(default=None, description="only records whose ban is in force on this date")
    after: Cursor = 0
    limit: PageSize = 100

    @field_validator("subject_id")
    @classmethod
    def _subject(cls, value: str | None) -> str | None:
        return None if value is None else normalise_any_subject_id(value)

    @field_validator("platform")
    @classmethod
    def _platform(cls, value: str | None) -> str | None:
        if value is not None and value not in PLATFORMS:
            raise ValueError(f"未知平台，应为 {', '.join(PLATFORMS)} 之一")
        return value


class PublicCreditQuery(RequestModel):
    subject_id: str = Field(max_length=64, description="统一社会信用代码 or expert id")
    after: Cursor = 0
    limit: PageSize = 100

    @field_validator("subject_id")
    @classmethod
    def _subject(cls, value: str) -> str:
        return normalise_any_subject_id(value)
