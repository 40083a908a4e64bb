"""What trading tells other services about a lot (supervision's complaints, the expert pool's draws)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

Law = Literal["bidding_law", "government_procurement", "land", "mining", "state_property", "rural_property"]


class LotSummary(BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    project_code: str
    platform: str
    category_code: str
    law: Law
    tenderee_org: str
    agency_org: str | None
    bid_deadline: datetime
    suspended: bool
