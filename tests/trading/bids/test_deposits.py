"""Bid deposits: the form per the lot's rule, the evidence, and refunds due within 5 days of the
withdrawal or the result (条例 第三十五、五十七条), visible to the centre only after the deadline."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

GUARANTEE = {"form": "guarantee_letter", "reference": "BH-2026-0001", "document_sha256": "ab" * 32}


def _put(bidding, body, name="a", lot=0):
    return bidding.client.put(f"/lots/{bidding.lot(lot)}/bids/mine/deposit", json=body, headers=bidding.headers(name))


def _set_rule(connection, lot_id, rule):
    connection.execute(
        text("update trading.lots set deposit = cast(:rule as jsonb) where id = :id"),
        {"rule": json.dumps(rule), "id": lot_id},
    )


def test_bidder_declares_its_deposit(bidding, outbox):
    assert bidding.submit("a").status_code == 201
    response = _put(bidding, {**GUARANTEE, "payer_account": "6222 0000 1111"})
    assert response.status_code == 200, response.text
    deposit = response.json()
    assert deposit["form"] == "guarantee_letter" and deposit["amount_fen"] == 8_000_000
    assert deposit["payer_account"] == "6222 0000 1111" and deposit["overdue"] is False
    assert deposit["refund_due_on"] is None
    event = outbox()[-1]
    assert event["action"] == "bid.deposit_recorded" and event["change"]["payer_account"] == "6222 0000 1111"
    # Declared again: replaced (the audit trail keeps both).
    assert _put(bidding, {"form": "cash", "reference": "XJ-1"}).json()["form"] == "cash"
    mine = bidding.client.get(f"/lots/{bidding.lot()}/bids/mine", headers=bidding.headers("a")).json()
    assert mine["deposit"]["form"] == "cash"


def test_forms_follow_the_lot_rule(bidding, connection, expect_error):
    assert bidding.submit("a").status_code == 201
    # The tender's lot takes a guarantee letter or cash only.
    details = expect_error(
        _put(bidding, {"form": "bank_transfer", "reference": "T-1"}), 422, "deposit_form_not_allowed"
    )
    assert details["allowed"] == ["guarantee_letter", "cash"]
    expect_error(_put(bidding, {"form": "waived"}), 422, "deposit_required")
    # No list on the lot: every non-cash form, never cash (cash only where the lot names it).
    _set_rule(connection, bidding.lot(), {"required": True, "amount_fen": 100_000, "forms": None})
    assert _put(bidding, {"form": "e_guarantee", "reference": "EG-1"}).status_code == 200
    expect_error(_put(bidding, {"form": "cash", "reference": "XJ-1"}), 422, "deposit_form_not_allowed")
    # No deposit required: only "waived".
    _set_rule(connection, bidding.lot(), {"required": False, "amount_fen": 0, "forms": None})
    expect_error(_put(bidding, GUARANTEE), 422, "deposit_not_required")
    waived = _put(bidding, {"form": "waived"})
    assert waived.status_code == 200 and waived.json()["amount_fen"] == 0


@pytest.mark.parametrize(
    "body",
    [
        {"form": "guarantee_letter"},  # no reference
        {"form": "gold", "reference": "x"},
        {"form": "cash", "reference": "x", "document_sha256": "AB" * 32},
        {"form": "cash", "reference": ""},
        {"form": "cash", "reference": "x" * 201},
        {"form": "cash", "reference": "a\x00b"},
        {"form": "cash", "reference": "x", "unknown": 1},
        {},
    ],
)
def test_bad_deposit_bodies_are_422(bidding, body, expect_error):
    assert bidding.submit("a").status_code == 201
    expect_error(_put(bidding, body), 422, "validation_error")


def test_deposit_needs_a_live_bid(bidding, expect_error):
    expect_error(_put(bidding, GUARANTEE), 404, "bid_not_found")
    assert bidding.submit("a").status_code == 201
    bidding.client.delete(f"/lots/{bidding.lot()}/bids/mine", headers=bidding.headers("a"))
    expect_error(_put(bidding, GUARANTEE), 409, "bid_already_withdrawn")


def test_refunds_are_tracked_after_the_deadline(bidding, set_times, connection, outbox, expect_error):
    lot = bidding.lot()
    operator = bidding.tender.headers("operator")
    for name in "abc":
        assert bidding.submit(name).status_code == 201
        assert _put(bidding, GUARANTEE, name=name).status_code == 200
    # b withdraws: its deposit is due back within 5 days of the withdrawal.
    bidding.client.delete(f"/lots/{lot}/bids/mine", headers=bidding.headers("b"))
    today = connection.execute(text("select (clock_timestamp() at time zone 'Asia/Shanghai')::date")).scalar_one()
    mine = bidding.client.get(f"/lots/{lot}/bids/mine", headers=bidding.headers("b")).json()
    assert mine["deposit"]["refund_due_on"] == (today + timedelta(days=5)).isoformat()
    assert mine["deposit"]["refund_basis"] == "withdrawal"

    # Secret until the deadline (电子招标投标办法 第二十一条).
    expect_error(bidding.client.get(f"/lots/{lot}/deposits", headers=operator), 403, "secret_until_deadline")
    set_times(lot, bid_deadline=timedelta(seconds=-1))
    listed = bidding.client.get(f"/lots/{lot}/deposits", headers=operator)
    assert listed.status_code == 200, listed.text
    by_org = {d["bidder_org"]: d for d in listed.json()}
    assert set(by_org) == {bidding.bidder(n).org for n in "abc"}
    assert by_org[bidding.bidder("b").org]["bid_status"] == "withdrawn"

    # The result is given today: the others are due 5 days later.
    response = bidding.client.put(
        f"/lots/{lot}/deposits/refund-due", json={"result_on": today.isoformat()}, headers=operator
    )
    assert response.status_code == 200, response.text
    due = {d["bidder_org"]: (d["refund_due_on"], d["refund_basis"]) for d in response.json()}
    five = (today + timedelta(days=5)).isoformat()
    assert due[bidding.bidder("a").org] == (five, "result")
    assert due[bidding.bidder("b").org] == (five, "withdrawal")
    assert outbox()[-1]["action"] == "lot.deposit_refunds_due"

    a_bid = by_org[bidding.bidder("a").org]["bid_id"]
    refunded = bidding.client.post(f"/lots/{lot}/deposits/{a_bid}/refund", json={"reference": "TK-1"}, headers=operator)
    assert refunded.status_code == 200, refunded.text
    assert refunded.json()["refunded_at"] is not None and refunded.json()["overdue"] is False
    assert outbox()[-1]["action"] == "bid.deposit_refunded"
    again = bidding.client.post(f"/lots/{lot}/deposits/{a_bid}/refund", headers=operator)
    expect_error(again, 409, "deposit_already_refunded")

    # c's refund is past due: flagged, and a late refund stays flagged.
    c_bid = by_org[bidding.bidder("c").org]["bid_id"]
    connection.execute(
        text("update trading.bid_deposits set refund_due_on = :d where bid_id = :id"),
        {"d": today - timedelta(days=1), "id": c_bid},
    )
    flagged = {d["bid_id"]: d["overdue"] for d in bidding.client.get(f"/lots/{lot}/deposits", headers=operator).json()}
    assert flagged == {a_bid: False, c_bid: True, by_org[bidding.bidder("b").org]["bid_id"]: False}
    late = bidding.client.post(f"/lots/{lot}/deposits/{c_bid}/refund", headers=operator)
    assert late.json()["overdue"] is True


def test_result_date_must_be_sensible(bidding, set_times, expect_error):
    lot = bidding.lot()
    operator = bidding.tender.headers("operator")
    set_times(lot, bid_deadline=timedelta(seconds=-1))
    tomorrow = (datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=2)).isoformat()
    response = bidding.client.put(f"/lots/{lot}/deposits/refund-due", json={"result_on": tomorrow}, headers=operator)
    expect_error(response, 422, "invalid_result_date")
    long_ago = "2020-01-01"
    response = bidding.client.put(f"/lots/{lot}/deposits/refund-due", json={"result_on": long_ago}, headers=operator)
    expect_error(response, 422, "invalid_result_date")


def test_refund_of_unknown_or_waived_deposits(bidding, set_times, connection, expect_error):
    lot = bidding.lot()
    operator = bidding.tender.headers("operator")
    bid_id = bidding.submit("a").json()["receipt"]["bid_id"]
    set_times(lot, bid_deadline=timedelta(seconds=-1))
    expect_error(
        bidding.client.post(f"/lots/{lot}/deposits/{bid_id}/refund", headers=operator), 404, "deposit_not_found"
    )
    other = "0b6f3c1e-5d2a-4e8b-9c7d-1a2b3c4d5e6f"
    expect_error(bidding.client.post(f"/lots/{lot}/deposits/{other}/refund", headers=operator), 404, "not_found")
    connection.execute(
        text(
            "insert into trading.bid_deposits (bid_id, form, amount_fen, recorded_at, recorded_by) "
            "values (:id, 'waived', 0, clock_timestamp(), 'x')"
        ),
        {"id": bid_id},
    )
    expect_error(bidding.client.post(f"/lots/{lot}/deposits/{bid_id}/refund", headers=operator), 409, "deposit_waived")
