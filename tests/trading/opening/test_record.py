"""The opening record: generated once decryption is closed, stored verbatim, published; bidders
confirm it within the set time (silence is acceptance, read by the database clock) or object, and
the host answers every objection (电子招标投标办法 第三十二条; 招标投标法实施条例 第四十四条)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text


@pytest.fixture
def closed(hall):
    hall.opened("a", "b", "c")
    hall.close()
    return hall


def _confirmations(hall, headers=None):
    response = hall.client.get(hall.url("/record"), headers=headers or hall.host)
    assert response.status_code == 200, response.text
    by_id = response.json()["confirmations"]
    return {name: by_id[hall.bid_id(name)] for name in "abc"}


def test_the_record_waits_for_decryption_to_close(hall, expect_error):
    hall.opened("a", "b", "c")
    expect_error(hall.client.post(hall.url("/record"), headers=hall.host), 409, "decryption_not_closed")
    expect_error(hall.client.get(hall.url("/record"), headers=hall.bidder("a")), 409, "record_not_published")
    expect_error(
        hall.client.post(hall.url("/record/confirmation"), headers=hall.bidder("a")), 409, "record_not_published"
    )
    expect_error(hall.client.get(hall.url("/result"), headers=hall.host), 409, "opening_in_progress")


def test_the_record_is_kept_verbatim_and_published_once(closed, connection, expect_error):
    hall = closed
    published = hall.publish()
    stored, digest, published_at, ends = connection.execute(
        text(
            "select record, record_sha256, record_published_at, confirmation_ends_at "
            "from trading.openings where lot_id = :lot"
        ),
        {"lot": hall.lot},
    ).one()
    assert hashlib.sha256(stored.encode()).hexdigest() == digest == published["sha256"]
    # The setting's time to confirm (TRADING_OPENING_CONFIRMATION_MINUTES, 30 by default).
    assert ends - published_at == timedelta(minutes=hall.client.app.state.settings.opening_confirmation_minutes)
    assert datetime.fromisoformat(published["confirmation_ends_at"]) == ends
    expect_error(hall.client.post(hall.url("/record"), headers=hall.host), 409, "record_already_published")
    # Every participant reads the same bytes.
    for name in "abc":
        assert hall.client.get(hall.url("/record"), headers=hall.bidder(name)).json()["sha256"] == digest


def test_confirm_within_the_time_silence_is_acceptance(closed, expect_error):
    hall = closed
    hall.publish()
    assert _confirmations(hall) == {"a": "pending", "b": "pending", "c": "pending"}
    first = hall.client.post(hall.url("/record/confirmation"), headers=hall.bidder("a"))
    assert first.status_code == 200 and "Idempotent-Replayed" not in first.headers
    again = hall.client.post(hall.url("/record/confirmation"), headers=hall.bidder("a"))
    assert again.headers["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert _confirmations(hall, hall.bidder("b")) == {"a": "confirmed", "b": "pending", "c": "pending"}
    hall.end_confirmation()
    # Decided at read time, by the database clock: nothing was written for the silent bidders.
    assert _confirmations(hall) == {"a": "confirmed", "b": "deemed_accepted", "c": "deemed_accepted"}
    late = hall.client.post(hall.url("/record/confirmation"), headers=hall.bidder("b"))
    expect_error(late, 409, "confirmation_closed")
    assert hall.state()["finished"] is True


def test_objections_are_answered_and_recorded(closed, other_lot, outbox, expect_error):
    hall = closed
    # Raised while decryption was closed, before the record: allowed, the opening is under way.
    raised = hall.client.post(hall.url("/objections"), json={"body": "唱标前请核对保证金"}, headers=hall.bidder("a"))
    assert raised.status_code == 201, raised.text
    objection = raised.json()
    assert objection["answer"] is None and objection["bidder_org"] == hall.bidding.bidder("a").org
    hall.publish()
    # Everybody in the hall sees it, the other bidders included.
    listed = hall.client.get(hall.url("/objections"), headers=hall.bidder("b")).json()
    assert [o["id"] for o in listed] == [objection["id"]]
    hall.end_confirmation()
    # Unanswered, the opening is not over although the time to confirm is.
    assert hall.state()["finished"] is False
    expect_error(
        hall.client.post(hall.url("/objections"), json={"body": "迟到的异议"}, headers=hall.bidder("b")),
        409,
        "objection_period_over",
    )
    answer_url = hall.url(f"/objections/{objection['id']}/answer")
    expect_error(
        hall.client.post(hall.url(f"/objections/{uuid.uuid4()}/answer"), json={"answer": "答复"}, headers=hall.host),
        404,
        "opening_objection_not_found",
    )
    # Another lot's host path cannot reach it.
    other_lot.bid("a", "b", "c")
    other_lot.pass_deadline()
    expect_error(
        hall.client.post(
            other_lot.url(f"/objections/{objection['id']}/answer"), json={"answer": "答复"}, headers=hall.host
        ),
        404,
        "opening_objection_not_found",
    )
    answered = hall.client.post(answer_url, json={"answer": "保证金已核对无误"}, headers=hall.host)
    assert answered.status_code == 200, answered.text
    assert answered.json()["answer"] == "保证金已核对无误" and answered.json()["answered_at"]
    expect_error(
        hall.client.post(answer_url, json={"answer": "再答复"}, headers=hall.host),
        409,
        "opening_objection_already_answered",
    )
    assert hall.state()["finished"] is True
    assert _confirmations(hall)["a"] == "objected"
    actions = [e["action"] for e in outbox()]
    assert actions.count("opening.objection_raised") == 1 and actions.count("opening.objection_answered") == 1


def test_no_objection_before_the_opening_starts(hall, expect_error):
    hall.bid("a", "b", "c")
    hall.pass_deadline()
    response = hall.client.post(hall.url("/objections"), json={"body": "尚未开标"}, headers=hall.bidder("a"))
    expect_error(response, 409, "opening_not_started")
