from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, Field, field_validator

from shared.auth.principal import ROLES
from shared.auth.scopes import SERVICE_AUDIENCES
from shared.credit_code import InvalidCreditCode, validate_credit_code
from shared.platforms import PLATFORMS
from shared.schemas import RequestModel

OrgType = Literal["bidder", "tenderee", "agency", "trading_centre", "supervisor_department"]
Role = Literal["bidder", "tenderee", "agency", "operator", "supervisor", "expert", "admin"]
Audience = Literal["portal", "trading", "expert_pool", "supervision"]
# The Literal types document the API; these guards keep them equal to the registries they mirror.
if set(ROLES) != set(get_args(Role)) or set(SERVICE_AUDIENCES) != set(get_args(Audience)):
    raise RuntimeError("identity schemas are out of step with shared.auth registries")

_USERNAME = re.compile(r"^[A-Za-z0-9_.-]{3,64}$")


def _check_platform(value: str) -> str:
    if value not in PLATFORMS:
        raise ValueError(f"unknown platform {value!r}; one of {', '.join(PLATFORMS)}")
    return value


class OrganisationCreate(RequestModel):
    name: str = Field(min_length=2, max_length=200)
    credit_code: str
    org_type: OrgType
    platform: str | None = Field(default=None, description="defaults to the caller's platform")

    @field_validator("credit_code")
    @classmethod
    def _credit(cls, v: str) -> str:
        try:
            return validate_credit_code(v)
        except InvalidCreditCode as exc:
            raise ValueError(str(exc)) from None

    @field_validator("platform")
    @classmethod
    def _platform(cls, v: str | None) -> str | None:
        return None if v is None else _check_platform(v)


class OrganisationOut(BaseModel):
    id: uuid.UUID
    name: str
    credit_code: str
    org_type: str
    platform: str
    created_at: datetime


class UserCreate(RequestModel):
    username: str
    display_name: str = Field(min_length=1, max_length=100)
    password: str | None = Field(default=None, min_length=10, max_length=256)
    roles: list[Role] = Field(min_length=1)
    platform: str | None = None
    organisation_id: uuid.UUID | None = None
    cert_subject_serial: str | None = Field(default=None, min_length=4, max_length=64)

    @field_validator("username")
    @classmethod
    def _username(cls, v: str) -> str:
        if not _USERNAME.match(v):
            raise ValueError("username: 3-64 letters, digits, '_', '.', '-'")
        return v

    @field_validator("platform")
    @classmethod
    def _platform(cls, v: str | None) -> str | None:
        return None if v is None else _check_platform(v)


class UserOut(BaseModel):
    id: uuid.UUID
    username: str
    display_name: str
    roles: list[str]
    platform: str
    organisation_id: uuid.UUID | None
    cert_subject_serial: str | None
    disabled: bool
    created_at: datetime


class LoginRequest(RequestModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=256)
    audience: list[Audience] | None = Field(default=None, description="services the token is for; default all")


class RefreshRequest(RequestModel):
    refresh_token: str = Field(max_length=256)


class CertChallengeOut(BaseModel):
    challenge_id: uuid.UUID
    nonce: str
    expires_at: datetime
    sign_this: str = Field(description="the exact UTF-8 text to sign with the certificate's private key")


class CertLoginRequest(RequestModel):
    challenge_id: uuid.UUID
    certificate_pem: str = Field(max_length=16384)
    intermediates_pem: list[str] = Field(default_factory=list, max_length=4)
    signature_b64: str = Field(max_length=2048)
    audience: list[Audience] | None = None
