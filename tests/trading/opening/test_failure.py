"""Fewer than three valid bids: no opening, the lot fails (流标; 招标投标法实施条例 第四十四条), decided
once, lazily, by the first request after the deadline; then the organiser tenders it again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from tests.trading.notices.conftest import upload
from tests.trading.projects.test_router import TENDEREE


def _dates(**overrides):
    now = datetime.now(UTC)
    dates = {
        "documents_from": (now + timedelta(hours=1)).isoformat(),
        "documents_until": (now + timedelta(days=7)).isoformat(),
        "bid_deadline": (now + timedelta(days=22)).isoformat(),
    }
    return {**dates, **overrides}


@pytest.fixture
def failed(hall):
    """Three bids, one withdrawn before the deadline: two valid, so the lot fails."""
    hall.bid("a", "b", "c")
    withdrawn = hall.client.delete(f"/lots/{hall.lot}/bids/mine", headers=hall.bidder("c"))
    assert withdrawn.status_code == 200, withdrawn.text
    hall.pass_deadline()
    return hall


def test_the_lot_fails_once_on_the_first_read(failed, connection, outbox, service, expect_error):
    hall = failed
    seen = hall.state(hall.bidder("a"))
    assert seen["status"] == "failed" and seen["finished"] is True
    assert seen["failure_reason"] == "fewer_than_three_bids" and seen["valid_bid_count"] == 2
    assert seen["bids"] == []
    # Read again, by others: the same decision, not a second one.
    assert hall.state()["status"] == "failed"
    hall.state(hall.bidding.tender.headers("supervisor"))
    decisions = [e for e in outbox() if e["action"] == "opening.failed"]
    assert len(decisions) == 1
    assert decisions[0]["actor"] == "system:opening" and decisions[0]["actor_role"] == "system"
    assert decisions[0]["change"]["valid_bid_count"] == 2
    assert decisions[0]["change"]["triggered_by"] == "bidder-a"
    rows = connection.execute(text("select kind from trading.opening_events order by seq")).scalars().all()
    assert rows == ["opening.failed"]

    details = expect_error(hall.client.post(hall.url("/start"), headers=hall.host), 409, "opening_failed")
    assert details == {
        "failure_reason": "fewer_than_three_bids",
        "valid_bid_count": 2,
        "basis": "招标投标法实施条例 第四十四条",
    }
    expect_error(hall.client.post(hall.url("/sign-in"), headers=hall.bidder("a")), 409, "opening_failed")
    # The withdrawn bidder is no participant.
    expect_error(hall.client.get(hall.url(), headers=hall.bidder("c")), 403, "not_a_participant")
    result = hall.client.get(hall.url("/result"), headers=service("trading:evaluation"))
    assert result.status_code == 200, result.text
    assert result.json()["status"] == "failed" and result.json()["bids"] == [] and result.json()["opened_at"] is None


def test_a_lot_nobody_bid_for_fails_too(other_lot):
    other_lot.pass_deadline()
    seen = other_lot.state()
    assert (seen["status"], seen["valid_bid_count"]) == ("failed", 0)


def test_three_valid_bids_open(hall, expect_error):
    hall.bid("a", "b", "c")
    hall.pass_deadline()
    assert hall.state()["status"] == "awaiting_start"
    retender = hall.client.post(f"/lots/{hall.lot}/retender", json=_dates(), headers=hall.host)
    expect_error(retender, 409, "opening_not_failed")


def test_the_organiser_tenders_a_failed_lot_again(failed, outbox, expect_error):
    hall = failed
    tender = hall.bidding.tender
    old = hall.client.get(f"/lots/{hall.lot}", headers=hall.host).json()
    # The lot rules apply to the new dates: a bidding period under 20 days is refused.
    short = _dates(bid_deadline=(datetime.now(UTC) + timedelta(days=10)).isoformat())
    details = expect_error(
        hall.client.post(f"/lots/{hall.lot}/retender", json=short, headers=hall.host), 422, "legal_rule_violated"
    )
    assert "bidding_period_too_short" in {v["rule"] for v in details["violations"]}

    response = hall.client.post(
        f"/lots/{hall.lot}/retender", json=_dates(), headers=tender.headers("tenderee", org=TENDEREE)
    )
    assert response.status_code == 201, response.text
    new = response.json()
    assert new["project_id"] == old["project_id"] and new["lot_no"] == 3
    for copied in (
        "name",
        "estimated_price_fen",
        "ceiling_price_fen",
        "procurement_method",
        "evaluation",
        "deposit",
        "price_adjustments",
        "decryption_window_minutes",
    ):
        assert new[copied] == old[copied], copied
    assert hall.state()["retendered_as"] == new["id"]
    actions = [e["action"] for e in outbox()]
    assert actions[-2:] == ["lot.created", "opening.retendered"]
    assert outbox()[-1]["change"]["new_lot_id"] == new["id"]
    again = hall.client.post(f"/lots/{hall.lot}/retender", json=_dates(), headers=hall.host)
    assert expect_error(again, 409, "already_retendered") == {"lot_id": new["id"]}

    # The new lot is announced through the usual notices flow, and bidders bid on it.
    organiser = hall.host
    notice = hall.client.post(
        f"/projects/{new['project_id']}/notices",
        json={"title": "重新招标公告", "body": "本标段重新招标。", "lot_ids": [new["id"]]},
        headers=organiser,
    )
    assert notice.status_code == 201, notice.text
    assert upload(hall.client, f"/notices/{notice.json()['id']}/documents", organiser).status_code == 201
    published = hall.client.post(f"/notices/{notice.json()['id']}/publish", headers=organiser)
    assert published.status_code == 200, published.text
    envelope = hall.bidding.seal("a", lot=new["id"])
    bid = hall.client.post(
        f"/lots/{new['id']}/bids",
        content=envelope,
        headers=hall.bidding.headers("a", **{"Content-Type": "application/octet-stream"}),
    )
    assert bid.status_code == 201, bid.text
