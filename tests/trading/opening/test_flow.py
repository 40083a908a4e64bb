"""A whole remote opening through the API: the deadline passes, the host starts, bidders sign in
and release their keys, decryption closes, the record is published, confirmed or objected to,
and the expert pool reads the result through its real typed client."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime, timedelta

from shared.clients.trading import TradingClient
from shared.contracts.trading import OpeningResult
from shared.envelope.codec import canonical_json
from tests.support.inprocess import InProcessTransport
from tests.trading.opening.conftest import PRICES, form_for


def test_a_whole_opening(hall, service, issuer, outbox, blob_path, expect_error):
    hall.bid("a", "b", "c", "d")
    hall.pass_deadline()
    due = hall.state()
    assert due["status"] == "awaiting_start" and due["valid_bid_count"] == 4
    assert {b["status"] for b in due["bids"]} == {"pending"}

    started = hall.start()
    assert started["status"] == "decrypting"
    window = datetime.fromisoformat(started["decryption_ends_at"]) - datetime.fromisoformat(started["started_at"])
    assert window == timedelta(minutes=30)  # the lot's decryption_window_minutes

    hall.sign_in("a", "b", "c", "d")
    decrypted = hall.release("a")
    assert decrypted.status_code == 200, decrypted.text
    mine = decrypted.json()
    assert mine["status"] == "decrypted"
    assert mine["bid_form"]["price_fen"] == PRICES["a"]
    assert mine["bid_form"]["project_manager_name"] == "项目经理a"
    assert mine["plaintext_sha256"] == hall.sealed["a"].signed.plaintext_sha256
    # The plaintext is kept, content-addressed by the digest the bidder signed, for the evaluation.
    assert blob_path(mine["plaintext_sha256"]).read_bytes() == hall.sealed["a"].plaintext

    # d first sends b's key: refused, and d may try again within the window.
    wrong = hall.release("d", hall.sealed["b"].release())
    assert expect_error(wrong, 422, "decryption_failed") == {"reason": "wrong_key", "failed_attempts": 1}
    hall.decrypt("b", "d")
    # c never releases its key; the window runs out.
    hall.end_window()
    closed = hall.close()
    outcome = {b["bidder_credit_code"]: (b["status"], b["fault"]) for b in closed["bids"]}
    codes = {n: hall.bidding.bidder(n).credit_code for n in "abcd"}
    assert outcome == {
        codes["a"]: ("decrypted", None),
        codes["b"]: ("decrypted", None),
        codes["c"]: ("revoked", "bidder"),
        codes["d"]: ("decrypted", None),
    }

    published = hall.publish()
    record = published["record"]
    # Stored verbatim: the digest is over the canonical bytes of what is served.
    assert hashlib.sha256(canonical_json(record)).hexdigest() == published["sha256"]
    assert record["format"] == "JCOPENING1" and record["lot"]["id"] == hall.lot
    assert record["summary"] == {"valid_bid_count": 4, "decrypted": 3, "revoked": 1, "withdrawn": 0}
    rows = {row["bidder_credit_code"]: row for row in record["bids"]}
    for name in "abd":
        row, form = rows[codes[name]], form_for(name)
        assert row["price_fen"] == form.price_fen and row["duration_days"] == form.duration_days
        assert row["quality"] == "合格"
        assert row["project_manager"] == {
            "name": form.project_manager.name,
            "certificate_no": form.project_manager.certificate_no,
        }
        assert row["deposit"] == {"form": "guarantee_letter", "amount_fen": 8_000_000}
        assert row["decryption"]["status"] == "decrypted" and row["decryption"]["decrypted_at"]
        assert row["bidder_org"] == hall.bidding.bidder(name).org
    assert rows[codes["c"]]["price_fen"] is None and rows[codes["c"]]["decryption"]["fault"] == "bidder"
    assert set(published["confirmations"].values()) == {"pending"}

    # a confirms, b objects and is answered, the others stay silent.
    confirmed = hall.client.post(hall.url("/record/confirmation"), headers=hall.bidder("a"))
    assert confirmed.status_code == 200, confirmed.text
    objection = hall.client.post(
        hall.url("/objections"), json={"body": "c 的解密时限计算有误"}, headers=hall.bidder("b")
    )
    assert objection.status_code == 201, objection.text
    answer = hall.client.post(
        hall.url(f"/objections/{objection.json()['id']}/answer"),
        json={"answer": "解密时限自开标开始计算，无误"},
        headers=hall.host,
    )
    assert answer.status_code == 200 and answer.json()["answer"] == "解密时限自开标开始计算，无误"
    assert hall.state()["finished"] is False
    hall.end_confirmation()
    final = hall.state()
    assert final["finished"] is True
    confirmations = {b["bidder_credit_code"]: b["confirmation"] for b in final["bids"]}
    assert confirmations == {
        codes["a"]: "confirmed",
        codes["b"]: "objected",
        codes["c"]: "deemed_accepted",
        codes["d"]: "deemed_accepted",
    }

    # The expert pool reads the result through its own client, with its own token.
    token = issuer.token(sub="svc-expert_pool", typ="service", aud="trading", scope="trading:evaluation")
    client = TradingClient("http://trading", transport=InProcessTransport(hall.client), token_provider=lambda: token)
    result = client.opening_result(uuid.UUID(hall.lot))
    assert isinstance(result, OpeningResult) and result.status == "opened"
    assert sorted(b.bidder_credit_code for b in result.bids) == sorted(codes[n] for n in "abd")
    assert {b.bidder_credit_code: b.price_fen for b in result.bids} == {codes[n]: PRICES[n] for n in "abd"}
    assert result.evaluation == {"method": "lowest_evaluated_price"}
    assert result.ceiling_price_fen == 390_000_000
    assert result.opened_at is not None

    actions = [e["action"] for e in outbox() if e["action"].startswith("opening.")]
    assert actions[:2] == ["opening.bids_fixed", "opening.started"]
    for expected in (
        "opening.signed_in",
        "opening.bid_decrypted",
        "opening.decryption_failed",
        "opening.decryption_closed",
        "opening.record_published",
        "opening.record_confirmed",
        "opening.objection_raised",
        "opening.objection_answered",
    ):
        assert expected in actions, expected
    published_event = next(e for e in outbox() if e["action"] == "opening.record_published")
    assert published_event["change"]["record_sha256"] == published["sha256"]
    # No event carries a content key.
    keys = [hall.sealed[n].release()["content_key"] for n in "abcd"]
    assert not any(k in json.dumps(e["change"]) for e in outbox() for k in keys)
