from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from shared.schemas import RequestModel


class ProjectCreate(RequestModel):
    name: str = Field(min_length=2, max_length=200)
    category_code: str = Field(max_length=40)
    region_code: str = Field(pattern=r"^\d{6}$", description="GB/T 2260 code of where the project is")
    estimated_price_fen: int = Field(ge=0, le=10**15, description="integer fen (分), never a float")
    funding_source: str = Field(min_length=2, max_length=200)
    tenderee_org: uuid.UUID = Field(description="the tenderee/purchaser organisation (portal id)")
    agency_org: uuid.UUID | None = Field(default=None, description="the tendering agency, if one is engaged")


class ProjectOut(BaseModel):
    id: uuid.UUID
    code: str
    name: str
    category_code: str
    catalogue_version: int
    region_code: str
    platform: str
    estimated_price_fen: int
    funding_source: str
    tenderee_org: str
    agency_org: str | None
    must_enter: bool
    must_enter_reason: str
    created_at: datetime
