from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from shared.auth.scopes import KNOWN_SCOPES
from shared.platforms import PLATFORMS
from shared.schemas import RequestModel


class ClientCreate(RequestModel):
    client_id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{2,63}$")
    name: str = Field(min_length=2, max_length=200)
    kind: Literal["service", "county_platform", "integration"]
    scopes: list[str] = Field(min_length=1)
    platform: str | None = None
    organisation_id: uuid.UUID | None = None

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, v: list[str]) -> list[str]:
        unknown = sorted(set(v) - KNOWN_SCOPES)
        if unknown:
            raise ValueError(f"unknown scopes: {', '.join(unknown)}")
        return sorted(set(v))

    @field_validator("platform")
    @classmethod
    def _platform(cls, v: str | None) -> str | None:
        if v is not None and v not in PLATFORMS:
            raise ValueError(f"unknown platform {v!r}")
        return v


class ClientOut(BaseModel):
    client_id: str
    name: str
    kind: str
    scopes: list[str]
    platform: str
    organisation_id: uuid.UUID | None
    disabled: bool
    created_at: datetime
    secret_rotated_at: datetime | None


class ClientWithSecret(ClientOut):
    client_secret: str = Field(description="shown once; only its hash is stored")
