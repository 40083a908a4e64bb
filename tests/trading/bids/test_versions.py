"""Modify (a new version supersedes the old) and withdraw (撤回) before the deadline (招标投标法 第二十九条)."""

from __future__ import annotations

from sqlalchemy import text

from services.trading.bids.receipts import verify_receipt


def test_modify_makes_a_new_version_and_only_the_latest_counts(bidding, outbox, connection):
    first = bidding.submit("a").json()["receipt"]
    second = bidding.submit("a").json()["receipt"]
    assert (first["version"], second["version"]) == (1, 2)
    assert first["bid_id"] == second["bid_id"] and first["ciphertext_sha256"] != second["ciphertext_sha256"]
    assert outbox()[-1]["action"] == "bid.modified"
    mine = bidding.client.get(f"/lots/{bidding.lot()}/bids/mine", headers=bidding.headers("a")).json()
    assert mine["status"] == "submitted" and mine["latest_version"] == 2
    assert [(v["version"], v["current"]) for v in mine["versions"]] == [(1, False), (2, True)]
    assert mine["versions"][1]["receipt_no"] == second["receipt_no"]
    assert mine["versions"][1]["ciphertext_sha256"] == second["ciphertext_sha256"]
    # Both ciphertexts stay stored (the first is evidence of what was superseded).
    assert connection.execute(text("select count(*) from trading.bid_versions")).scalar_one() == 2


def test_withdraw_with_a_signed_receipt_then_bid_again(bidding, receipt_key, outbox, expect_error):
    lot = bidding.lot()
    accepted = bidding.submit("a").json()["receipt"]
    response = bidding.client.delete(f"/lots/{lot}/bids/mine", headers=bidding.headers("a"))
    assert response.status_code == 200, response.text
    withdrawal = response.json()
    assert verify_receipt(receipt_key, withdrawal["receipt"], withdrawal["signature"])
    receipt = withdrawal["receipt"]
    assert receipt["kind"] == "bid_withdrawn" and receipt["version"] == 1
    assert receipt["ciphertext_sha256"] == accepted["ciphertext_sha256"]
    assert receipt["recorded_at"] > accepted["recorded_at"]
    assert outbox()[-1]["action"] == "bid.withdrawn"
    mine = bidding.client.get(f"/lots/{lot}/bids/mine", headers=bidding.headers("a")).json()
    assert mine["status"] == "withdrawn" and mine["withdrawn_at"] is not None
    assert [v["current"] for v in mine["versions"]] == [False]
    expect_error(
        bidding.client.delete(f"/lots/{lot}/bids/mine", headers=bidding.headers("a")), 409, "bid_already_withdrawn"
    )
    # Before the deadline the bidder may bid again: the next version.
    again = bidding.submit("a").json()["receipt"]
    assert again["version"] == 2 and again["bid_id"] == accepted["bid_id"]
    assert outbox()[-1]["action"] == "bid.resubmitted"
    mine = bidding.client.get(f"/lots/{lot}/bids/mine", headers=bidding.headers("a")).json()
    assert mine["status"] == "submitted" and mine["withdrawn_at"] is None and mine["latest_version"] == 2
    assert [v["current"] for v in mine["versions"]] == [False, True]
    kinds = [
        r["receipt"]["kind"]
        for r in bidding.client.get(f"/lots/{lot}/bids/mine/receipts", headers=bidding.headers("a")).json()
    ]
    assert kinds == ["bid_accepted", "bid_withdrawn", "bid_accepted"]


def test_a_new_version_sent_with_an_idempotency_key_moves_the_bid_to_it(bidding):
    """The statement that records a version binds the claim and moves the bid's row together."""
    lot = bidding.lot()
    assert bidding.submit("a", **{"Idempotency-Key": "first-1"}).status_code == 201
    second = bidding.submit("a", **{"Idempotency-Key": "second-1"})
    assert second.status_code == 201, second.text
    mine = bidding.client.get(f"/lots/{lot}/bids/mine", headers=bidding.headers("a")).json()
    assert mine["latest_version"] == 2 and mine["updated_at"] == mine["versions"][1]["accepted_at"]
    assert [v["current"] for v in mine["versions"]] == [False, True]


def test_withdraw_without_a_bid(bidding, expect_error):
    lot = bidding.lot()
    expect_error(bidding.client.delete(f"/lots/{lot}/bids/mine", headers=bidding.headers("a")), 404, "bid_not_found")
    expect_error(bidding.client.get(f"/lots/{lot}/bids/mine", headers=bidding.headers("a")), 404, "bid_not_found")
    response = bidding.client.get(f"/lots/{lot}/bids/mine/receipts", headers=bidding.headers("a"))
    expect_error(response, 404, "bid_not_found")


def test_one_bid_per_company_and_lot(bidding, expect_error):
    """A second account of the same company (same credit code) cannot bid beside the first."""
    envelope = bidding.seal("a")
    assert bidding.submit("a", envelope).status_code == 201
    twin = bidding.bidder("a-twin")
    twin.credit_code, twin.cert = bidding.bidder("a").credit_code, bidding.bidder("a").cert
    expect_error(bidding.submit("a-twin", bidding.seal("a-twin")), 409, "credit_code_in_use")


def test_bids_on_two_lots_are_separate(bidding):
    first = bidding.submit("a", lot=0).json()["receipt"]
    second = bidding.submit("a", lot=1).json()["receipt"]
    assert first["bid_id"] != second["bid_id"] and first["version"] == second["version"] == 1
