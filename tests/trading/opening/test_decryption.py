"""Key release and decryption: sign-in first, within the window (database clock, checked again when
the decryption is recorded), wrong keys refused and recorded, a repeat of the same release answered
the same, and a ciphertext the platform lost is the platform's fault."""

from __future__ import annotations

import base64
import json
import os
from datetime import datetime

import pytest
from sqlalchemy import text

from tests.trading.opening.conftest import form_for
from tools import bidder as bidder_tool


@pytest.fixture
def started(hall):
    hall.bid("a", "b", "c")
    hall.pass_deadline()
    hall.start()
    return hall


def test_sign_in_comes_first_and_is_recorded_once(hall, outbox, expect_error):
    hall.bid("a", "b", "c")
    hall.pass_deadline()
    # Bidders may sign in before the host starts, but not decrypt.
    first = hall.client.post(hall.url("/sign-in"), headers=hall.bidder("a"))
    assert first.status_code == 200 and "Idempotent-Replayed" not in first.headers
    expect_error(hall.release("a"), 409, "opening_not_started")
    again = hall.client.post(hall.url("/sign-in"), headers=hall.bidder("a"))
    assert again.headers["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert [e["action"] for e in outbox()].count("opening.signed_in") == 1
    hall.start()
    expect_error(hall.release("b"), 409, "not_signed_in")
    hall.sign_in("b")
    assert hall.release("b").status_code == 200


def test_keys_that_do_not_open_the_bid(started, outbox, connection, expect_error):
    hall = started
    hall.sign_in("a")
    release = hall.sealed["a"].release()
    cases = {
        # a key of the right form and length that is not the key: the GCM tag fails
        "another key": {**release, "content_key": base64.b64encode(os.urandom(32)).decode()},
        # a key release for another envelope
        "another envelope": hall.sealed["b"].release(),
        # not base64 at all
        "malformed": {**release, "content_key": "not a key"},
    }
    for attempt, (case, body) in enumerate(cases.items(), start=1):
        details = expect_error(hall.release("a", body), 422, "decryption_failed")
        assert details == {"reason": "wrong_key", "failed_attempts": attempt}, case
    # The failures are kept although each request failed: they are part of the record.
    failures = [e for e in outbox() if e["action"] == "opening.decryption_failed"]
    assert [e["change"]["failed_attempts"] for e in failures] == [1, 2, 3]
    own = next(b for b in hall.state()["bids"] if b["bidder_credit_code"] == hall.bidding.bidder("a").credit_code)
    assert (own["status"], own["failed_attempts"]) == ("pending", 3)
    # The right key still opens it within the window.
    assert hall.release("a").status_code == 200
    assert (
        connection.execute(text("select count(*) from trading.opening_events where kind = 'bid.decrypted'")).scalar()
        == 1
    )


def test_the_same_release_again_answers_the_same(started, outbox, expect_error):
    hall = started
    hall.sign_in("a")
    first = hall.release("a")
    assert first.status_code == 200 and "Idempotent-Replayed" not in first.headers
    again = hall.release("a")
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    # Still after the window and the close: the bid stays what it was.
    hall.end_window()
    hall.close()
    assert hall.release("a").json() == first.json()
    # Another key for a decrypted bid is no repeat.
    other = {**hall.sealed["a"].release(), "content_key": base64.b64encode(os.urandom(32)).decode()}
    expect_error(hall.release("a", other), 409, "bid_already_decrypted")
    assert [e["action"] for e in outbox()].count("opening.bid_decrypted") == 1


def test_the_window_is_the_database_clock(started, expect_error):
    hall = started
    hall.sign_in("a", "b")
    state = hall.state()
    assert datetime.fromisoformat(state["decryption_ends_at"]) > datetime.fromisoformat(state["now"])
    hall.end_window()
    expect_error(hall.release("a"), 409, "decryption_window_closed")
    hall.close()
    expect_error(hall.release("b"), 409, "decryption_closed")
    expect_error(hall.client.post(hall.url("/sign-in"), headers=hall.bidder("c")), 409, "decryption_closed")


def test_the_window_is_checked_again_when_the_decryption_is_recorded(started, gate_uploads, connection, expect_error):
    """Checks passed, key sent, but the window runs out while the bid is being decrypted: the
    recording decides, as the acceptance decides for a bid."""
    hall = started
    hall.sign_in("a")
    # The store keeps the plaintext at the end of the decryption; the window ends just then.
    gate_uploads(hall.end_window)
    expect_error(hall.release("a"), 409, "decryption_window_closed")
    status = connection.execute(
        text("select status from trading.opening_bids where bidder_org = :org"), {"org": hall.bidding.bidder("a").org}
    ).scalar_one()
    assert status == "pending"
    assert (
        connection.execute(text("select count(*) from trading.opening_events where kind = 'bid.decrypted'")).scalar()
        == 0
    )


def test_a_form_the_database_cannot_store_is_the_bidders(hall, expect_error):
    """A NUL character is valid JSON and seals, but no text column takes it: refused as a bad bid
    form (it stays unopened and is revoked at the close), never a database error."""
    hall.forms["a"] = form_for("a").model_copy(update={"quality": "合\x00格"})
    hall.bid("a", "b", "c")
    hall.pass_deadline()
    hall.start()
    hall.sign_in("a")
    details = expect_error(hall.release("a"), 422, "decryption_failed")
    assert details == {"reason": "bad_bid_form", "failed_attempts": 1}


def test_the_reference_tool_output_is_what_the_platform_takes(started, tmp_path, capsys):
    """``python -m tools.bidder release-key bid.jcb.key.json`` prints the body to send, as is."""
    hall = started
    hall.sign_in("a")
    sealed = hall.sealed["a"]
    key_file = tmp_path / "bid.jcb.key.json"
    # The key file as ``seal`` writes it: the key release itself.
    key_file.write_text(json.dumps(sealed.release()))
    assert bidder_tool.main(["release-key", str(key_file)]) == 0
    printed = capsys.readouterr().out.strip()
    response = hall.client.post(
        hall.url("/key"), content=printed, headers={**hall.bidder("a"), "Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text


def test_a_ciphertext_the_platform_lost_is_the_platforms_fault(started, blob_path, outbox, expect_error):
    hall = started
    hall.sign_in("a", "b", "c")
    hall.decrypt("a", "b")
    blob_path(hall.sealed["c"].signed.ciphertext_sha256).unlink()
    expect_error(hall.release("c"), 500, "ciphertext_unavailable")
    assert outbox()[-1]["action"] == "opening.decryption_failed"
    assert outbox()[-1]["change"]["reason"] == "ciphertext_unavailable"
    own = next(b for b in hall.state()["bids"] if b["bidder_credit_code"] == hall.bidding.bidder("c").credit_code)
    assert (own["status"], own["failed_attempts"]) == ("pending", 0)  # not counted against the bidder
    # The host records it as the platform's fault: withdrawn (撤回), not revoked.
    hall.end_window()
    bid_c = hall.bid_id("c")
    closed = hall.close(platform_faults=[{"bid_id": bid_c, "reason": "平台存储故障，密文丢失"}])
    c = next(b for b in closed["bids"] if b["bid_id"] == bid_c)
    assert (c["status"], c["fault"], c["fault_reason"]) == ("withdrawn", "platform", "平台存储故障，密文丢失")
