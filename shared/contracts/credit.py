"""Credit status (信用状态) as supervision answers it to trading and the expert pool.

Supervision builds its answers from these types and the callers' typed client
(:class:`shared.clients.supervision.SupervisionClient`) decodes into them, so a field renamed on one
side breaks the tests of both. Answers ignore unknown fields (supervision may add some); requests
refuse them, like every request body.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Literal, Self

from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator

from shared.credit_code import InvalidCreditCode, validate_credit_code
from shared.schemas import RequestModel

SubjectKind = Literal["organisation", "expert"]
# 招标投标法 and its 条例 (engineering tendering) or 政府采购法 and its 条例 (government procurement).
CreditLaw = Literal["bidding", "government_procurement"]
Standing = Literal["clean", "banned"]

MAX_BATCH_SUBJECTS = 500


def normalise_subject_id(kind: SubjectKind, value: str) -> str:
    """Organisations by 统一社会信用代码 (checked, upper-case); experts by their expert-pool id
    (a UUID, canonical lower-case), so that one subject always has one spelling."""
    if kind == "organisation":
        try:
            return validate_credit_code(value)
        except InvalidCreditCode as exc:
            raise ValueError(str(exc)) from None
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise ValueError("专家编号应为专家库中的 UUID") from None


class CreditSubject(RequestModel):
    """Whom a credit question is about."""

    subject_kind: SubjectKind
    subject_id: str = Field(min_length=1, max_length=64)

    @field_validator("subject_id")
    @classmethod
    def _normalise(cls, value: str, info: ValidationInfo) -> str:
        kind = info.data.get("subject_kind")
        if kind is None:  # the kind itself was refused; that error is the one to report
            return value
        return normalise_subject_id(kind, value)


class CreditStatusBatchRequest(RequestModel):
    """``POST /credit/status:batch``: up to 500 subjects, all judged on the same date."""

    on: date | None = None
    subjects: list[CreditSubject] = Field(min_length=1, max_length=MAX_BATCH_SUBJECTS)


class ActiveCreditRecord(BaseModel):
    """A bad-behaviour record whose ban is in force on the date asked about."""

    id: int
    platform: str
    law: CreditLaw
    department: str
    decision_number: str
    decided_on: date
    ban_start: date
    # The last day of the ban (inclusive); None for a ban without end (e.g. an expert's 取消资格).
    ban_end: date | None


class CreditStatus(BaseModel):
    """The credit standing of one subject on one date (Asia/Shanghai calendar date)."""

    subject_kind: SubjectKind
    subject_id: str
    on: date
    status: Standing
    # Any record not revoked and decided on or before ``on``, banning or not, current or expired.
    has_records: bool
    active_records: list[ActiveCreditRecord]

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        # A caller must never read "clean" from an answer that lists a ban, nor the reverse.
        if (self.status == "banned") != bool(self.active_records):
            raise ValueError("status must be 'banned' exactly when active_records is not empty")
        if self.active_records and not self.has_records:
            raise ValueError("a subject with active records has records")
        return self

    @property
    def banned(self) -> bool:
        return self.status == "banned"


class CreditStatusBatch(BaseModel):
    """The answers to a batch, one per subject asked about and in the same order."""

    on: date
    results: list[CreditStatus]
