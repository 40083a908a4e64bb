"""The opening record (开标记录表): built once from what the opening stored, kept verbatim.

The record is canonical JSON (docs/bid-envelope.md §2) so anyone can recompute its SHA-256 from the
published text; it is stored as those exact bytes and never re-encoded (电子招标投标办法 第三十二条:
the platform generates the record and publishes it to the participants).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from services.trading.bids.models import BidDeposit
from services.trading.lots.models import Lot
from services.trading.opening.access import stamp
from services.trading.opening.models import Opening, OpeningBid
from services.trading.projects.models import Project
from shared.auth import Principal
from shared.envelope.codec import canonical_json

RECORD_FORMAT = "JCOPENING1"


def _bid_entry(bid: OpeningBid, deposit: BidDeposit | None) -> dict[str, Any]:
    decrypted = bid.status == "decrypted"
    return {
        "bid_id": str(bid.bid_id),
        "bidder_org": bid.bidder_org,
        "bidder_credit_code": bid.bidder_credit_code,
        "signed_in_at": stamp(bid.signed_in_at) if bid.signed_in_at else None,
        "decryption": {
            "status": bid.status,
            "decrypted_at": stamp(bid.decrypted_at) if bid.decrypted_at else None,
            "fault": bid.fault,
            "reason": bid.fault_reason,
        },
        "plaintext_sha256": bid.plaintext_sha256,
        "price_fen": bid.price_fen if decrypted else None,
        "duration_days": bid.duration_days if decrypted else None,
        "quality": bid.quality if decrypted else None,
        "project_manager": (
            {"name": bid.project_manager_name, "certificate_no": bid.project_manager_certificate_no}
            if decrypted
            else None
        ),
        "extra": bid.extra if decrypted else None,
        "deposit": {"form": deposit.form, "amount_fen": deposit.amount_fen} if deposit is not None else None,
    }


def build(
    *,
    lot: Lot,
    project: Project,
    opening: Opening,
    bids: list[OpeningBid],
    deposits: dict[Any, BidDeposit],
    host: Principal,
    published_at: datetime,
) -> dict[str, Any]:
    assert opening.started_at and opening.decryption_ends_at and opening.closed_at  # noqa: S101 - closed
    ordered = sorted(bids, key=lambda b: b.bidder_credit_code)
    return {
        "format": RECORD_FORMAT,
        "platform": project.platform,
        "project": {"id": str(project.id), "code": project.code, "name": project.name},
        "lot": {
            "id": str(lot.id),
            "lot_no": lot.lot_no,
            "name": lot.name,
            "ceiling_price_fen": lot.ceiling_price_fen,
        },
        "bid_deadline": stamp(lot.bid_deadline),
        "started_at": stamp(opening.started_at),
        "decryption_ends_at": stamp(opening.decryption_ends_at),
        "decryption_closed_at": stamp(opening.closed_at),
        "published_at": stamp(published_at),
        "host": {"subject": host.subject, "org": host.org, "role": host.primary_role},
        "summary": {
            "valid_bid_count": opening.valid_bid_count,
            **{status: sum(1 for b in bids if b.status == status) for status in ("decrypted", "revoked", "withdrawn")},
        },
        "bids": [_bid_entry(b, deposits.get(b.bid_id)) for b in ordered],
    }


def encode(record: dict[str, Any]) -> tuple[str, str]:
    """The stored text and its SHA-256 (hex), both over the same canonical bytes."""
    data = canonical_json(record)
    return data.decode("utf-8"), hashlib.sha256(data).hexdigest()
