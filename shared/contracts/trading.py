"""What trading tells other services about a lot (supervision's complaints, the expert pool's draws)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

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


class OpenedBid(BaseModel):
    """A bid decrypted at the opening: its bid form as the opening record reads it out.

    ``extra`` holds the lot-specific fields of the bid form; evaluation reads the policy flags
    ``sme`` (small/micro enterprise) and ``innovation_product`` from it for GP price adjustments."""

    bid_id: uuid.UUID
    bidder_org: str
    bidder_credit_code: str
    price_fen: int
    duration_days: int
    quality: str
    project_manager_name: str
    project_manager_certificate_no: str
    extra: dict[str, Any]
    plaintext_sha256: str
    decrypted_at: datetime


class OpeningResult(BaseModel):
    """What the expert pool's evaluation reads from trading once a lot is opened: only bids that
    were decrypted; revoked and withdrawn ones never reach the committee."""

    lot_id: uuid.UUID
    status: Literal["opened", "failed"]
    opened_at: datetime | None
    evaluation: dict[str, Any]
    price_adjustments: dict[str, Any] | None
    ceiling_price_fen: int | None
    bids: list[OpenedBid]
