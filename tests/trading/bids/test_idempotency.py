"""Idempotency-Key on submission: the same key and body give the first receipt, another body 422,
and 409 while the first attempt is still uploading. Keys are per bidder organisation."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import text


def _versions(connection) -> int:
    return connection.execute(text("select count(*) from trading.bid_versions")).scalar_one()


def test_same_key_same_body_returns_the_first_receipt(bidding, outbox, connection, set_times):
    envelope = bidding.seal("a")
    first = bidding.submit("a", envelope, **{"Idempotency-Key": "k-1"})
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    again = bidding.submit("a", envelope, **{"Idempotency-Key": "k-1"})
    assert again.status_code == 201, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert _versions(connection) == 1
    assert [e["action"] for e in outbox()].count("bid.submitted") == 1
    # Still the first receipt after the deadline: a retry of something accepted in time.
    set_times(bidding.lot(), bid_deadline=timedelta(seconds=-1))
    late = bidding.submit("a", envelope, **{"Idempotency-Key": "k-1"})
    assert late.status_code == 201 and late.json() == first.json()


def test_same_key_other_body_is_refused(bidding, connection, expect_error):
    assert bidding.submit("a", **{"Idempotency-Key": "k-2"}).status_code == 201
    expect_error(bidding.submit("a", **{"Idempotency-Key": "k-2"}), 422, "idempotency_key_reused")
    expect_error(bidding.submit("a", lot=1, **{"Idempotency-Key": "k-2"}), 422, "idempotency_key_reused")
    assert _versions(connection) == 1
    # A new key is a new version.
    assert bidding.submit("a", **{"Idempotency-Key": "k-3"}).json()["receipt"]["version"] == 2


def test_same_body_sent_to_another_lot_is_not_a_replay(bidding, expect_error):
    envelope = bidding.seal("a", lot=0)
    assert bidding.submit("a", envelope, **{"Idempotency-Key": "k-4"}).status_code == 201
    expect_error(bidding.submit("a", envelope, lot=1, **{"Idempotency-Key": "k-4"}), 422, "idempotency_key_reused")


def test_same_key_while_in_flight_is_409(bidding, gate_uploads, connection, expect_error):
    envelope = bidding.seal("a")
    uploading, finish = threading.Event(), threading.Event()

    def hold() -> None:
        uploading.set()
        assert finish.wait(30)

    gate_uploads(hold)
    results: dict[str, object] = {}
    first = threading.Thread(
        target=lambda: results.update(first=bidding.submit("a", envelope, **{"Idempotency-Key": "k-5"}))
    )
    first.start()
    try:
        assert uploading.wait(30)
        gate_uploads(lambda: None)
        expect_error(bidding.submit("a", envelope, **{"Idempotency-Key": "k-5"}), 409, "idempotency_in_progress")
    finally:
        finish.set()
        first.join(30)
    done = results["first"]
    assert done.status_code == 201, done.text  # type: ignore[attr-defined]
    replay = bidding.submit("a", envelope, **{"Idempotency-Key": "k-5"})
    assert replay.status_code == 201 and replay.json() == done.json()  # type: ignore[attr-defined]
    assert _versions(connection) == 1


def test_a_refused_attempt_frees_its_key(bidding, expect_error, connection):
    expect_error(bidding.submit("a", b"PK\x03\x04 not sealed", **{"Idempotency-Key": "k-6"}), 422, "envelope_rejected")
    assert connection.execute(text("select count(*) from trading.bid_submission_keys")).scalar_one() == 0
    assert bidding.submit("a", **{"Idempotency-Key": "k-6"}).status_code == 201


def test_a_submission_refused_before_its_upload_claims_nothing(bidding, expect_error, connection, set_times):
    """The key is claimed in the statement that checks the lot: a refusal there rolls it back."""
    envelope = bidding.seal("a")
    headers = {**bidding.headers("a", **{"Idempotency-Key": "k-9"}), "Content-Type": "application/octet-stream"}
    expect_error(bidding.client.post(f"/lots/{uuid.uuid4()}/bids", content=envelope, headers=headers), 404, "not_found")
    set_times(bidding.lot(), bid_deadline=timedelta(seconds=-1))
    expect_error(bidding.submit("a", envelope, **{"Idempotency-Key": "k-9"}), 409, "bid_deadline_passed")
    assert connection.execute(text("select count(*) from trading.bid_submission_keys")).scalar_one() == 0


def test_an_abandoned_claim_is_taken_over(bidding, connection):
    """A process that died mid-upload left its claim behind; after the claim period a retry proceeds."""
    org = bidding.bidder("a").org
    connection.execute(
        text(
            "insert into trading.bid_submission_keys (bidder_org, key, lot_id, claim_token, claimed_at) "
            "values (:org, 'k-7', :lot, :token, clock_timestamp() - interval '2 hours')"
        ),
        {"org": org, "lot": bidding.lot(), "token": uuid.uuid4()},
    )
    response = bidding.submit("a", **{"Idempotency-Key": "k-7"})
    assert response.status_code == 201, response.text
    row = connection.execute(text("select receipt_no from trading.bid_submission_keys where key = 'k-7'")).one()
    assert row[0] == response.json()["receipt"]["receipt_no"]


def test_a_recent_claim_is_in_flight(bidding, connection, expect_error):
    connection.execute(
        text(
            "insert into trading.bid_submission_keys (bidder_org, key, lot_id, claim_token, claimed_at) "
            "values (:org, 'k-8', :lot, :token, clock_timestamp() - interval '5 minutes')"
        ),
        {"org": bidding.bidder("a").org, "lot": bidding.lot(), "token": uuid.uuid4()},
    )
    expect_error(bidding.submit("a", **{"Idempotency-Key": "k-8"}), 409, "idempotency_in_progress")


def test_keys_belong_to_one_organisation(bidding):
    a = bidding.submit("a", **{"Idempotency-Key": "shared-key"})
    b = bidding.submit("b", **{"Idempotency-Key": "shared-key"})
    assert a.status_code == b.status_code == 201
    assert a.json()["receipt"]["bidder_org"] != b.json()["receipt"]["bidder_org"]


def test_malformed_keys_are_refused(bidding, expect_error):
    for key in ("", "has space", "x" * 129, "中文".encode()):
        headers: dict[str, Any] = {"Idempotency-Key": key}
        response = bidding.client.post(
            f"/lots/{bidding.lot()}/bids",
            content=b"JCBID1\n",
            headers=bidding.headers("a", **{"Content-Type": "application/octet-stream"}) | headers,
        )
        assert response.status_code == 422, (key, response.text)
        assert response.json()["error"]["code"] in {"invalid_idempotency_key", "validation_error"}
