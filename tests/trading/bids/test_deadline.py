"""The deadline is the database's: decided by clock_timestamp() in the transaction that records the
bid, under the lot's lock, after the upload has finished (招标投标法 第二十八条)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import text


def _recorded_at(receipt: dict) -> datetime:
    return datetime.strptime(receipt["recorded_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def test_bids_race_a_deadline_two_seconds_away(bidding, set_times, lot_deadline, connection, expect_error):
    lot = bidding.lot()
    envelopes = [bidding.seal(name) for name in "abcdefgh"]  # sealed beforehand: the race is the upload
    set_times(lot, bid_deadline=timedelta(seconds=2))
    deadline = lot_deadline(lot)
    accepted: list[dict] = []
    refused: list[object] = []
    started = time.monotonic()
    round_ = 0
    while len(refused) < 3:
        assert time.monotonic() - started < 30, "the deadline never passed"
        name = "abcdefgh"[round_ % 8]
        response = bidding.submit(name, envelopes[round_ % 8])
        round_ += 1
        if response.status_code == 201:
            assert not refused, "a bid was accepted after one was refused for lateness"
            accepted.append(response.json()["receipt"])
        else:
            details = expect_error(response, 409, "bid_deadline_passed")
            assert details["basis"] == "招标投标法 第二十八条"
            assert connection.execute(text("select clock_timestamp()")).scalar_one() >= deadline
            refused.append(response)
    assert accepted, "nothing got in during the two seconds"
    assert all(_recorded_at(r) < deadline for r in accepted)
    stored = connection.execute(text("select max(accepted_at), count(*) from trading.bid_versions")).one()
    assert stored[0] < deadline and stored[1] == len(accepted)


def test_an_upload_that_finishes_after_the_deadline_is_refused(
    bidding, set_times, lot_deadline, gate_uploads, connection, expect_error
):
    """Started in time, finished late: the acceptance decides, not the start of the upload."""
    lot = bidding.lot()
    envelope = bidding.seal("a")
    set_times(lot, bid_deadline=timedelta(seconds=1))
    deadline = lot_deadline(lot)
    gate_uploads(lambda: time.sleep(1.5))  # the last byte arrives after the deadline
    response = bidding.submit("a", envelope, **{"Idempotency-Key": "late-1"})
    expect_error(response, 409, "bid_deadline_passed")
    assert connection.execute(text("select count(*) from trading.bid_versions")).scalar_one() == 0
    assert connection.execute(text("select count(*) from trading.bids")).scalar_one() == 0
    # The key of a refused attempt is free again (it bound nothing).
    assert connection.execute(text("select count(*) from trading.bid_submission_keys")).scalar_one() == 0
    assert connection.execute(text("select clock_timestamp()")).scalar_one() >= deadline


def test_past_deadline_refuses_submit_modify_withdraw_and_deposit(bidding, set_times, expect_error):
    lot = bidding.lot()
    assert bidding.submit("a").status_code == 201
    set_times(lot, bid_deadline=timedelta(seconds=-1))
    expect_error(bidding.submit("a"), 409, "bid_deadline_passed")
    expect_error(bidding.submit("b"), 409, "bid_deadline_passed")
    expect_error(
        bidding.client.delete(f"/lots/{lot}/bids/mine", headers=bidding.headers("a")), 409, "bid_deadline_passed"
    )
    deposit = {"form": "guarantee_letter", "reference": "BH-2026-001"}
    response = bidding.client.put(f"/lots/{lot}/bids/mine/deposit", json=deposit, headers=bidding.headers("a"))
    expect_error(response, 409, "bid_deadline_passed")
    # The bidder still sees its own bid after the deadline.
    mine = bidding.client.get(f"/lots/{lot}/bids/mine", headers=bidding.headers("a"))
    assert mine.status_code == 200 and mine.json()["status"] == "submitted"


def test_suspended_lot_refuses_bids(bidding, service, expect_error, connection):
    lot = bidding.lot()
    reference = "complaint:0b6f3c1e-5d2a-4e8b-9c7d-1a2b3c4d5e6f"
    suspend = bidding.client.put(
        f"/lots/{lot}/suspensions/{reference}", json={"reason": "投诉处理期间暂停"}, headers=service("trading:suspend")
    )
    assert suspend.status_code == 200, suspend.text
    expect_error(bidding.submit("a"), 409, "lot_suspended")
    bidding.client.delete(f"/lots/{lot}/suspensions/{reference}", headers=service("trading:suspend"))
    assert bidding.submit("a").status_code == 201


def test_suspension_during_the_upload_is_seen_under_the_lock(bidding, gate_uploads, connection, expect_error):
    lot = bidding.lot()

    def suspend_meanwhile() -> None:
        connection.execute(text("update trading.lots set status = 'suspended' where id = :id"), {"id": lot})

    gate_uploads(suspend_meanwhile)
    expect_error(bidding.submit("a"), 409, "lot_suspended")
    assert connection.execute(text("select count(*) from trading.bid_versions")).scalar_one() == 0
