"""Before the deadline no opening endpoint tells anyone whether, who or how many bid
(电子招标投标办法 第二十一条; 招标投标法 第二十二条): every caller gets the same answer on a lot with
three bids as on a lot with none, bidders with and without a bid alike, and nothing is written."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from tests.trading.projects.test_router import TENDEREE


def _answers(hall, callers, release):
    base = hall.url()
    requests = [
        ("GET", base, None),
        ("GET", f"{base}/feed", None),
        ("GET", f"{base}/record", None),
        ("GET", f"{base}/objections", None),
        ("GET", f"{base}/result", None),
        ("POST", f"{base}/start", None),
        ("POST", f"{base}/close", {}),
        ("POST", f"{base}/record", None),
        ("POST", f"{base}/objections/{uuid.uuid4()}/answer", {"answer": "答复"}),
        ("POST", f"{base}/sign-in", None),
        ("POST", f"{base}/key", release),
        ("POST", f"{base}/record/confirmation", None),
        ("POST", f"{base}/objections", {"body": "对开标过程有异议"}),
        (
            "POST",
            f"/lots/{hall.lot}/retender",
            {
                "documents_from": datetime.now(UTC).isoformat(),
                "documents_until": (datetime.now(UTC) + timedelta(days=6)).isoformat(),
                "bid_deadline": (datetime.now(UTC) + timedelta(days=21)).isoformat(),
            },
        ),
    ]
    seen = {}
    for method, path, body in requests:
        for who, headers in callers.items():
            response = hall.client.request(method, path, json=body, headers=headers)
            seen[(method, path.replace(hall.lot, "LOT").split("/objections/")[0], who)] = (
                response.status_code,
                response.json(),
            )
    return seen


def test_before_the_deadline_every_opening_endpoint_answers_alike(
    hall, other_lot, service, connection, outbox, expect_error
):
    hall.bid("a", "b", "c")
    # Both lots close at the same moment, so their answers can be compared byte for byte.
    connection.execute(
        text(
            "update trading.lots set bid_deadline = (select bid_deadline from trading.lots where id = :a) where id = :b"
        ),
        {"a": hall.lot, "b": other_lot.lot},
    )
    tender = hall.bidding.tender
    callers = {
        "agency": tender.organiser,
        "tenderee": tender.headers("tenderee", org=TENDEREE),
        "operator": tender.headers("operator"),
        "supervisor": tender.headers("supervisor"),
        "bidder with a bid": hall.bidder("a"),
        "bidder without a bid": hall.bidder("stranger"),
        "expert pool": service("trading:evaluation"),
    }
    release = hall.sealed["a"].release()
    with_bids = _answers(hall, callers, release)
    without_bids = _answers(other_lot, callers, release)
    assert with_bids.keys() == without_bids.keys()
    deadline = connection.execute(
        text("select bid_deadline from trading.lots where id = :a"), {"a": hall.lot}
    ).scalar_one()

    admitted = 0
    for key, (status, body) in with_bids.items():
        assert (status, body) == without_bids[key], key
        if status == 403:  # a role this endpoint never admits, bids or not (checked first)
            assert body["error"]["code"] in {"forbidden_role", "wrong_token_type", "insufficient_scope"}, key
            continue
        admitted += 1
        assert status == 409 and body["error"]["code"] == "opening_not_due", key
        assert body["error"]["details"]["bid_deadline"] == deadline.isoformat()
    # Every endpoint admitted someone; bidders with and without a bid were both among them.
    assert admitted >= 30
    assert (
        with_bids[("POST", "/lots/LOT/opening/key", "bidder with a bid")]
        == with_bids[("POST", "/lots/LOT/opening/key", "bidder without a bid")]
    )
    secrets = [hall.bidding.bidder(n).org for n in "abc"] + [hall.bidding.bidder(n).credit_code for n in "abc"]
    assert not any(s in str(answer) for answer in with_bids.values() for s in secrets)

    # Nothing was decided, opened or recorded.
    for table in ("openings", "opening_bids", "opening_events", "opening_objections"):
        assert connection.execute(text(f"select count(*) from trading.{table}")).scalar_one() == 0  # noqa: S608
    assert not [e for e in outbox() if e["action"].startswith("opening.")]


def test_the_opening_becomes_visible_at_the_deadline(hall, expect_error):
    hall.bid("a", "b", "c")
    expect_error(hall.client.get(hall.url(), headers=hall.bidder("a")), 409, "opening_not_due")
    hall.pass_deadline()
    seen = hall.state(hall.bidder("a"))
    assert seen["status"] == "awaiting_start" and seen["valid_bid_count"] == 3
    # After the deadline the opening is public to its participants: names included.
    assert {b["bidder_org"] for b in seen["bids"]} == {hall.bidding.bidder(n).org for n in "abc"}
