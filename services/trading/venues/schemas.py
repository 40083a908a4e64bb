from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from shared.schemas import RequestModel


class VenueCreate(RequestModel):
    name: str = Field(min_length=2, max_length=100)
    kind: Literal["opening_hall", "evaluation_room", "remote_evaluation_room"]
    location: str = Field(min_length=2, max_length=200)
    capacity: int = Field(gt=0, le=1000)


class VenueOut(BaseModel):
    id: uuid.UUID
    platform: str
    name: str
    kind: str
    location: str
    capacity: int
    active: bool
    created_at: datetime
