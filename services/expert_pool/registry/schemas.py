from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, field_validator, model_validator

from services.expert_pool.registry.contact import InvalidPhone, normalise_phone
from services.expert_pool.registry.identity_numbers import InvalidIdNumber, validate_id_number
from shared.credit_code import InvalidCreditCode, validate_credit_code
from shared.schemas import RequestModel

TitleLevel = Literal["senior", "associate_senior", "intermediate", "other"]
ConflictKind = Literal["relative", "shareholding", "directorship", "other"]
SPECIALTY_CODE = r"^[A-Z][0-9]{0,15}$"
# GB/T 2260 codes are six digits; whether a Jincheng platform serves the region is the service's call.
REGION_CODE = r"^[0-9]{6}$"
# A portal user's ``sub``: printable, no spaces.
ACCOUNT_SUBJECT = r"^[!-~]{1,128}$"


def _credit(value: str) -> str:
    try:
        return validate_credit_code(value)
    except InvalidCreditCode as exc:
        raise ValueError(str(exc)) from None


def _phone(value: str) -> str:
    try:
        return normalise_phone(value)
    except InvalidPhone as exc:
        raise ValueError(str(exc)) from None


def _specialty_list(codes: list[str]) -> list[str]:
    # Order is kept (the first is the expert's main specialty by convention); repeats are noise.
    return list(dict.fromkeys(codes))


# --- specialties ---------------------------------------------------------------------------------


class SpecialtyCreate(RequestModel):
    code: str = Field(pattern=SPECIALTY_CODE)
    name: str = Field(min_length=2, max_length=100)
    parent_code: str | None = None


class SpecialtyUpdate(RequestModel):
    """Rename or (de)activate a code. A deactivated code stays on the experts who hold it, but new
    registrations and imports refuse it."""

    name: str | None = Field(None, min_length=2, max_length=100)
    active: bool | None = None

    @model_validator(mode="after")
    def _something(self) -> SpecialtyUpdate:
        if self.name is None and self.active is None:
            raise ValueError("give name, active or both")
        return self


# --- experts -------------------------------------------------------------------------------------


class ExpertCreate(RequestModel):
    """A new expert. The same fields, by the same names, are the columns of the CSV import."""

    name: str = Field(min_length=2, max_length=50)
    id_number: str = Field(max_length=32, description="公民身份号码, 18 characters (GB 11643-1999); stored encrypted")
    region_code: str = Field(pattern=REGION_CODE, description="home region, GB/T 2260; decides the platform")
    phone: str = Field(min_length=7, max_length=32)
    title: str = Field(min_length=2, max_length=100, description="professional title, e.g. 高级工程师")
    title_level: TitleLevel
    years_experience: int = Field(ge=0, le=70)
    specialties: list[str] = Field(min_length=1, max_length=20)
    employer_credit_code: str
    employer_name: str = Field(min_length=2, max_length=200)
    employed_since: date = Field(description="when the expert joined the current employer")
    account_subject: str | None = Field(None, pattern=ACCOUNT_SUBJECT, description="portal user the expert signs in as")

    @field_validator("id_number")
    @classmethod
    def _id_number(cls, value: str) -> str:
        try:
            return validate_id_number(value)
        except InvalidIdNumber as exc:
            raise ValueError(str(exc)) from None

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        return _phone(value)

    @field_validator("employer_credit_code")
    @classmethod
    def _credit(cls, value: str) -> str:
        return _credit(value)

    @field_validator("specialties")
    @classmethod
    def _specialties(cls, value: list[str]) -> list[str]:
        return _specialty_list(value)


_NOT_NULLABLE = ("name", "phone", "title", "title_level", "years_experience", "specialties", "region_code")


class ExpertUpdate(RequestModel):
    """Fields to change; those left out stay. ``account_subject: null`` unlinks the portal account.
    The employer changes through ``POST /experts/{id}/employments`` (history is kept); the ID number
    never changes (a wrong one means removing the record and registering again)."""

    name: str | None = Field(None, min_length=2, max_length=50)
    region_code: str | None = Field(None, pattern=REGION_CODE)
    phone: str | None = Field(None, min_length=7, max_length=32)
    title: str | None = Field(None, min_length=2, max_length=100)
    title_level: TitleLevel | None = None
    years_experience: int | None = Field(None, ge=0, le=70)
    specialties: list[str] | None = Field(None, min_length=1, max_length=20)
    account_subject: str | None = Field(None, pattern=ACCOUNT_SUBJECT)

    @model_validator(mode="after")
    def _nulls(self) -> ExpertUpdate:
        nulled = [f for f in _NOT_NULLABLE if f in self.model_fields_set and getattr(self, f) is None]
        if nulled:
            raise ValueError(f"these fields cannot be null: {', '.join(nulled)}")
        if not self.model_fields_set:
            raise ValueError("nothing to change")
        return self

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return None if value is None else _phone(value)

    @field_validator("specialties")
    @classmethod
    def _specialties(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _specialty_list(value)


class StatusChange(RequestModel):
    reason: str = Field(min_length=2, max_length=500)


class Reactivation(RequestModel):
    reason: str | None = Field(None, min_length=2, max_length=500, description="recorded in the audit trail")


class ExpertOut(BaseModel):
    """An expert as staff (and the expert themselves) see it. The ID number appears only masked."""

    id: uuid.UUID
    platform: str
    region_code: str
    name: str
    id_number_masked: str
    phone: str
    title: str
    title_level: str
    years_experience: int
    specialties: list[str]
    employer_credit_code: str
    employer_name: str
    account_subject: str | None
    status: str
    status_reason: str | None
    status_changed_at: datetime | None
    created_at: datetime


class ExpertPage(BaseModel):
    experts: list[ExpertOut]
    next_after: uuid.UUID | None = Field(description="pass as `after` for the next page; null on the last page")


class ImportResult(BaseModel):
    imported: int
    sha256: str = Field(description="SHA-256 of the uploaded file, as recorded in the audit trail")
    expert_ids: list[uuid.UUID] = Field(description="the new experts' ids, in the file's row order")


# --- employment, conflicts, unavailability -------------------------------------------------------


class EmploymentCreate(RequestModel):
    """A past employment (with ``ended_on``), or a new current employer (without): the current one
    then ends the day the new one starts."""

    employer_credit_code: str
    employer_name: str = Field(min_length=2, max_length=200)
    started_on: date
    ended_on: date | None = None

    @field_validator("employer_credit_code")
    @classmethod
    def _credit(cls, value: str) -> str:
        return _credit(value)


class EmploymentOut(BaseModel):
    id: uuid.UUID
    employer_credit_code: str
    employer_name: str
    started_on: date
    ended_on: date | None
    current: bool


class ConflictCreate(RequestModel):
    kind: ConflictKind = Field(description="relative: a close relative works there; shareholding; directorship")
    organisation_credit_code: str
    description: str = Field(min_length=2, max_length=500)

    @field_validator("organisation_credit_code")
    @classmethod
    def _credit(cls, value: str) -> str:
        return _credit(value)


class ConflictOut(BaseModel):
    id: uuid.UUID
    kind: str
    organisation_credit_code: str
    description: str
    declared_at: datetime


class UnavailabilityCreate(RequestModel):
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    reason: str = Field(min_length=2, max_length=500)


class UnavailabilityOut(BaseModel):
    id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    reason: str


def expert_out(expert: Any) -> ExpertOut:
    return ExpertOut.model_validate(expert, from_attributes=True)
