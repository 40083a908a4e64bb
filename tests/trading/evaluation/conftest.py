"""A lot whose bidding has closed with three bids, for the committee's draw and report."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from typing import Any

import pytest

from shared.envelope.codec import canonical_json
from tests.trading.bids.conftest import (  # noqa: F401 - fixtures re-used from the bids tests
    bid_ca,
    bidding,
    ca_file,
    supervision,
    trading,
)
from tests.trading.notices.conftest import draft_notice, set_times, storage_dir, tender  # noqa: F401


@pytest.fixture
def closed_lot(bidding, set_times) -> dict[str, Any]:  # noqa: F811
    """Lot 0 with bids from a, b and c, its deadline a minute ago."""
    bid_ids = {}
    for name in ("a", "b", "c"):
        response = bidding.submit(name)
        assert response.status_code == 201, response.text
        bid_ids[name] = response.json()["receipt"]["bid_id"]
    set_times(bidding.lot(), bid_deadline=timedelta(minutes=-1))
    return {"lot_id": bidding.lot(), "bids": bid_ids, "bidding": bidding}


def report_body(lot_id: str, bids: dict[str, str], **overrides: Any) -> dict[str, Any]:
    report = overrides.pop(
        "report",
        {"sheets": [{"expert": "专家1", "scores": {bids["a"]: "88.50"}}], "signatures": ["sha256:" + "ab" * 32]},
    )
    body = {
        "evaluation_id": str(uuid.uuid4()),
        "lot_id": lot_id,
        "method": "comprehensive_scoring",
        "candidates": [
            {"rank": 1, "bid_id": bids["a"], "bidder_credit_code": "x", "score": "88.50", "evaluated_price_fen": 1},
            {"rank": 2, "bid_id": bids["b"], "bidder_credit_code": "y", "score": "80.00", "evaluated_price_fen": 2},
        ],
        "rejected": [{"bid_id": bids["c"], "reason": "未按招标文件要求提供投标保证金"}],
        "report": report,
        "report_sha256": hashlib.sha256(canonical_json(report)).hexdigest(),
        "completed_at": "2026-11-29T08:00:00+00:00",
    }
    body.update(overrides)
    return body
