"""The committee's report handed to trading by the expert pool, and who may read it."""

from __future__ import annotations

import uuid

from tests.trading.evaluation.conftest import report_body
from tests.trading.notices.conftest import AGENCY


def _pool(service, **claims):
    return service("trading:evaluation", **claims)


def test_report_is_stored_once_and_read_by_the_organiser(closed_lot, service, outbox):
    bidding = closed_lot["bidding"]
    client, lot = bidding.client, closed_lot["lot_id"]
    body = report_body(lot, closed_lot["bids"])
    first = client.put(f"/lots/{lot}/evaluation-report", json=body, headers=_pool(service))
    assert first.status_code == 201, first.text
    again = client.put(f"/lots/{lot}/evaluation-report", json=body, headers=_pool(service))
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    read = client.get(f"/lots/{lot}/evaluation-report", headers=bidding.tender.organiser)
    assert read.status_code == 200, read.text
    assert [c["rank"] for c in read.json()["candidates"]] == [1, 2]
    assert read.json()["report_sha256"] == body["report_sha256"]
    events = [e for e in outbox() if e["action"] == "evaluation.report_received"]
    assert len(events) == 1 and events[0]["object_id"] == body["evaluation_id"]


def test_a_second_different_report_is_refused(closed_lot, service, expect_error):
    client, lot = closed_lot["bidding"].client, closed_lot["lot_id"]
    assert (
        client.put(
            f"/lots/{lot}/evaluation-report", json=report_body(lot, closed_lot["bids"]), headers=_pool(service)
        ).status_code
        == 201
    )
    other = report_body(lot, closed_lot["bids"], report={"sheets": [], "signatures": []})
    expect_error(client.put(f"/lots/{lot}/evaluation-report", json=other, headers=_pool(service)), 409, "report_exists")


def test_bad_reports_get_clear_errors(closed_lot, service, expect_error):
    client, lot, bids = closed_lot["bidding"].client, closed_lot["lot_id"], closed_lot["bids"]
    put = lambda body: client.put(f"/lots/{lot}/evaluation-report", json=body, headers=_pool(service))  # noqa: E731
    expect_error(put(report_body(lot, bids, report_sha256="0" * 64)), 422, "report_digest_mismatch")
    stranger = str(uuid.uuid4())
    body = report_body(lot, bids)
    body["rejected"] = [{"bid_id": stranger, "reason": "x"}]
    expect_error(put(body), 422, "unknown_bid")
    body = report_body(lot, bids)
    body["candidates"][1]["rank"] = 3
    expect_error(put(body), 422, "bad_candidate_ranks")
    expect_error(put(report_body(str(uuid.uuid4()), bids)), 422, "lot_mismatch")
    expect_error(put({**report_body(lot, bids), "surprise": 1}), 422, "validation_error")
    expect_error(
        client.put(f"/lots/{uuid.uuid4()}/evaluation-report", json=report_body(lot, bids), headers=_pool(service)),
        422,
        "lot_mismatch",
    )
    assert (
        client.get(f"/lots/{lot}/evaluation-report", headers=closed_lot["bidding"].tender.organiser).status_code == 404
    )


def test_report_endpoints_refuse_wrong_roles_tokens_and_counties(closed_lot, service, expect_error):
    bidding = closed_lot["bidding"]
    client, lot, tender = bidding.client, closed_lot["lot_id"], bidding.tender
    body = report_body(lot, closed_lot["bids"])
    path = f"/lots/{lot}/evaluation-report"
    # Only the expert pool's service token with its scope may hand in a report.
    for headers in (tender.organiser, tender.headers("operator"), service("trading:read")):
        assert client.put(path, json=body, headers=headers).status_code == 403
    assert client.put(path, json=body).status_code == 401
    # A county system cannot reach a city lot: 404 as if it did not exist.
    expect_error(client.put(path, json=body, headers=_pool(service, platform="gaoping")), 404, "not_found")
    assert client.put(path, json=body, headers=_pool(service)).status_code == 201
    # Readers: the organiser, staff and supervisors of the lot's platform; not bidders, not experts,
    # not another organisation, not another county.
    for role in ("bidder", "expert"):
        assert client.get(path, headers=tender.headers(role, org=str(uuid.uuid4()))).status_code == 403
    expect_error(client.get(path, headers=tender.headers("agency", org=str(uuid.uuid4()))), 404, "not_found")
    expect_error(client.get(path, headers=tender.headers("operator", platform="gaoping")), 404, "not_found")
    expect_error(client.get(path, headers=tender.headers("supervisor", platform="gaoping")), 404, "not_found")
    for headers in (tender.headers("agency", org=AGENCY), tender.headers("supervisor"), tender.headers("operator")):
        assert client.get(path, headers=headers).status_code == 200
