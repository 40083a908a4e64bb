from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from shared.credit_code import InvalidCreditCode, validate_credit_code
from shared.schemas import RequestModel


class SpecialtyCreate(RequestModel):
    code: str = Field(pattern=r"^[A-Z][0-9]{0,15}$")
    name: str = Field(min_length=2, max_length=100)
    parent_code: str | None = None


class ExpertCreate(RequestModel):
    name: str = Field(min_length=2, max_length=50)
    title: str = Field(min_length=2, max_length=100)
    title_level: Literal["senior", "associate_senior", "intermediate", "other"]
    years_experience: int = Field(ge=0, le=70)
    specialties: list[str] = Field(min_length=1, max_length=20)
    employer_credit_code: str

    @field_validator("employer_credit_code")
    @classmethod
    def _credit(cls, v: str) -> str:
        try:
            return validate_credit_code(v)
        except InvalidCreditCode as exc:
            raise ValueError(str(exc)) from None


class ExpertOut(BaseModel):
    id: uuid.UUID
    platform: str
    name: str
    title: str
    title_level: str
    years_experience: int
    specialties: list[str]
    employer_credit_code: str
    status: str
    created_at: datetime
