"""Who may do what at an opening: roles by ``require``, tenancy by the token's platform and
organisation (a person of another county gets 404 as everywhere in trading), and a bidder only
with its own valid bid."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.trading.projects.test_router import AGENCY, TENDEREE

RETENDER_DATES = {
    "documents_from": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
    "documents_until": (datetime.now(UTC) + timedelta(days=7)).isoformat(),
    "bid_deadline": (datetime.now(UTC) + timedelta(days=22)).isoformat(),
}


@pytest.fixture
def due(hall):
    """Three bids (one from a Gaoping bidder: bidders of every platform may bid), deadline passed."""
    hall.bidding.bidder("g", platform="gaoping")
    hall.bid("a", "b", "g")
    hall.pass_deadline()
    return hall


def test_wrong_roles_are_refused(due, service, expect_error):
    hall, tender = due, due.bidding.tender
    client, url = hall.client, hall.url
    expert = tender.headers("expert")
    expect_error(client.get(url(), headers=expert), 403, "forbidden_role")
    expect_error(client.get(url("/feed"), headers=expert), 403, "forbidden_role")
    for path in ("/start", "/close", "/record"):
        expect_error(client.post(url(path), headers=hall.bidder("a")), 403, "forbidden_role")
        expect_error(client.post(url(path), headers=tender.headers("supervisor")), 403, "forbidden_role")
    answer = client.post(url(f"/objections/{uuid.uuid4()}/answer"), json={"answer": "答复"}, headers=hall.bidder("a"))
    expect_error(answer, 403, "forbidden_role")
    for path in ("/sign-in", "/record/confirmation"):
        expect_error(client.post(url(path), headers=hall.host), 403, "forbidden_role")
    expect_error(client.post(url("/key"), json=hall.sealed["a"].release(), headers=hall.host), 403, "forbidden_role")
    objection = client.post(url("/objections"), json={"body": "主持人的异议？"}, headers=tender.headers("operator"))
    expect_error(objection, 403, "forbidden_role")
    # The result is for the expert pool and the host only.
    expect_error(client.get(url("/result"), headers=tender.headers("supervisor")), 403, "forbidden_role")
    expect_error(client.get(url("/result"), headers=hall.bidder("a")), 403, "forbidden_role")
    expect_error(client.get(url("/result"), headers=service("trading:read")), 403, "insufficient_scope")
    # People's endpoints refuse machine tokens, whatever their scopes.
    expect_error(client.get(url(), headers=service("trading:evaluation")), 403, "wrong_token_type")
    # Re-tendering creates a lot: the project's organisers only, not trading-centre staff.
    retender = client.post(f"/lots/{hall.lot}/retender", json=RETENDER_DATES, headers=tender.headers("operator"))
    expect_error(retender, 403, "forbidden_role")


READS = [("GET", ""), ("GET", "/feed"), ("GET", "/record"), ("GET", "/objections")]
HOST_STEPS = [
    ("POST", "/start", None),
    ("POST", "/close", {}),
    ("POST", "/record", None),
    ("POST", f"/objections/{uuid.uuid4()}/answer", {"answer": "答复"}),
    ("GET", "/result", None),
]


def test_another_county_or_organisation_sees_nothing(due, service, expect_error):
    hall, tender = due, due.bidding.tender
    client, url = hall.client, hall.url
    readers = {
        "gaoping operator": tender.headers("operator", platform="gaoping"),
        "gaoping supervisor": tender.headers("supervisor", platform="gaoping"),
        "another agency": tender.headers("agency", org=str(uuid.uuid4())),
        "another tenderee": tender.headers("tenderee", org=str(uuid.uuid4())),
        # The project's own agency, logged in to a county platform: tenancy is the token's too.
        "own agency via gaoping": tender.headers("agency", org=AGENCY, platform="gaoping"),
    }
    for who, headers in readers.items():
        for method, path in READS:
            expect_error(client.request(method, url(path), headers=headers), 404, "not_found")
        if who == "gaoping supervisor":
            continue  # supervisors host nothing: refused by role (test_wrong_roles_are_refused)
        for method, path, body in HOST_STEPS:
            expect_error(client.request(method, url(path), json=body, headers=headers), 404, "not_found")
        if who != "gaoping operator":  # staff do not re-tender at all
            retender = client.post(f"/lots/{hall.lot}/retender", json=RETENDER_DATES, headers=headers)
            expect_error(retender, 404, "not_found")
    county_pool = service("trading:evaluation", platform="gaoping")
    expect_error(client.get(url("/result"), headers=county_pool), 404, "not_found")
    # An unknown lot is the same 404.
    expect_error(client.get(f"/lots/{uuid.uuid4()}/opening", headers=hall.host), 404, "not_found")
    # Nothing was started by any of them.
    assert hall.state()["status"] == "awaiting_start"


def test_a_bidder_takes_part_only_with_its_own_valid_bid(due, expect_error):
    hall = due
    client, url = hall.client, hall.url
    stranger = hall.bidder("stranger")
    for method, path in (("GET", ""), ("GET", "/feed"), ("GET", "/objections"), ("POST", "/sign-in")):
        expect_error(client.request(method, url(path), headers=stranger), 403, "not_a_participant")
    # A bidder of another county takes part in a city lot it bid for.
    hall.start()
    hall.sign_in("g")
    assert hall.release("g").status_code == 200
    # Its own bid, found by its organisation: nothing in the request names a bid.
    expect_error(hall.release("g", hall.sealed["a"].release()), 409, "bid_already_decrypted")
    assert {b["status"] for b in hall.state(hall.bidder("a"))["bids"]} == {"pending", "decrypted"}


def test_hosts_are_the_organisers_and_the_centre_staff(due, outbox):
    hall, tender = due, due.bidding.tender
    tenderee = tender.headers("tenderee", org=TENDEREE)
    assert hall.client.get(hall.url(), headers=tenderee).status_code == 200
    # The city platform's operator may host a city lot, and so may the tenderee (招标投标法 第三十五条).
    started = hall.client.post(hall.url("/start"), headers=tender.headers("operator"))
    assert started.status_code == 200, started.text
    event = next(e for e in outbox() if e["action"] == "opening.started")
    assert event["actor_role"] == "operator"


def test_where_a_bidder_signed_in_is_for_host_and_supervisors(due):
    hall, tender = due, due.bidding.tender
    hall.sign_in("a")
    for headers in (hall.host, tender.headers("supervisor")):
        signed = next(b for b in hall.state(headers)["bids"] if b["signed_in_at"])
        assert signed["sign_in"] == {"ip": "testclient", "user_agent": "testclient"}
    for name in ("a", "b"):
        assert all(b["sign_in"] is None for b in hall.state(hall.bidder(name))["bids"])
