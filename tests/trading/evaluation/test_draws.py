"""Trading asks the expert pool for a committee: the expert pool's real app answers in-process
(its credit checks by supervision's real app), on the same test transaction."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from shared.clients.expert_pool import ExpertPoolClient
from tests.expert_pool.draws.conftest import supervision_client_for
from tests.expert_pool.factories import add_specialty, create_experts, make_credit_code
from tests.support.inprocess import InProcessTransport
from tests.trading.notices.conftest import AGENCY


@pytest.fixture
def specialty(session) -> str:
    code = add_specialty(session)
    create_experts(session, 9, specialties=[code])
    return code


@pytest.fixture
def pool_link(make_client, supervision, issuer, closed_lot) -> ExpertPoolClient:
    """Trading's expert-pool client routed to the expert pool's real app."""
    expert_pool = make_client("expert_pool")
    expert_pool.app.state.supervision = supervision_client_for(supervision, issuer)
    token = issuer.token(sub="svc-trading", typ="service", aud="expert_pool", scope="experts:draw")
    client = ExpertPoolClient(
        "http://expert_pool", transport=InProcessTransport(expert_pool), token_provider=lambda: token, retries=0
    )
    closed_lot["bidding"].client.app.state.expert_pool = client
    return client


def draw_body(specialty: str, count: int = 5, **overrides: Any) -> dict[str, Any]:
    starts = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    return {
        "specialties": [{"specialty": specialty, "count": count, "reserves": 2}],
        "evaluation_starts_at": starts.isoformat(),
        "evaluation_ends_at": (starts + timedelta(hours=4)).isoformat(),
        "tenderee_credit_code": make_credit_code(900001),
        "agency_credit_code": make_credit_code(900002),
        **overrides,
    }


def _post(closed_lot, body, headers=None, key="k-1"):
    tender = closed_lot["bidding"].tender
    return tender.client.post(
        f"/lots/{closed_lot['lot_id']}/expert-draws",
        json=body,
        headers={**(headers or tender.organiser), "Idempotency-Key": key},
    )


def test_organiser_asks_for_a_committee_once(closed_lot, specialty, pool_link, outbox, expect_error):
    body = draw_body(specialty)
    first = _post(closed_lot, body)
    assert first.status_code == 201, first.text
    draw = first.json()["draw"]
    assert draw["members_required"] == 5 and draw["pending"] == 5 and draw["reserves_left"] == 2
    # Counts and status only: the list is sealed.
    assert "name" not in first.text and "expert_id" not in first.text
    # The key with another body is refused; it never draws a second panel.
    expect_error(_post(closed_lot, draw_body(specialty, count=7)), 422, "idempotency_key_reused")
    listed = closed_lot["bidding"].client.get(
        f"/lots/{closed_lot['lot_id']}/expert-draws", headers=closed_lot["bidding"].tender.organiser
    )
    assert listed.status_code == 200, listed.text
    assert [d["draw"]["id"] for d in listed.json()] == [draw["id"]]
    events = [e for e in outbox() if e["action"] == "experts.draw_requested"]
    assert len(events) == 1
    assert events[0]["change"]["bidders"] == 3


def test_same_key_and_body_returns_the_same_draw(closed_lot, specialty, pool_link):
    body = draw_body(specialty)
    first = _post(closed_lot, body)
    second = _post(closed_lot, body)
    assert first.status_code == 201 and second.status_code == 200, second.text
    assert second.json()["draw"]["id"] == first.json()["draw"]["id"]


def test_the_expert_pool_refusals_come_back_with_their_code(closed_lot, specialty, pool_link, expect_error):
    # An even committee breaks 招标投标法 第三十七条: the expert pool says so, trading passes it on.
    expect_error(_post(closed_lot, draw_body(specialty, count=4)), 422, "draw_rule_violated")


def test_no_draw_before_the_deadline(bidding, specialty, expect_error):
    response = bidding.submit("a")
    assert response.status_code == 201, response.text
    answer = bidding.client.post(
        f"/lots/{bidding.lot()}/expert-draws",
        json=draw_body(specialty),
        headers={**bidding.tender.organiser, "Idempotency-Key": "k"},
    )
    expect_error(answer, 409, "bidding_not_closed")


def test_unreachable_expert_pool_is_a_503(closed_lot, specialty, expect_error):
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    closed_lot["bidding"].client.app.state.expert_pool = ExpertPoolClient(
        "http://expert_pool", transport=httpx.MockTransport(down), token_provider=lambda: "t", retries=0
    )
    expect_error(_post(closed_lot, draw_body(specialty)), 503, "dependency_unavailable")


def test_draw_endpoints_refuse_wrong_roles_organisations_and_counties(closed_lot, specialty, pool_link, expect_error):
    tender = closed_lot["bidding"].tender
    body = draw_body(specialty)
    for role in ("bidder", "supervisor", "expert"):
        assert _post(closed_lot, body, tender.headers(role, org=str(uuid.uuid4()))).status_code == 403
    # Another organisation's agency and another county's operator: the lot does not exist for them.
    expect_error(_post(closed_lot, body, tender.headers("agency", org=str(uuid.uuid4()))), 404, "not_found")
    expect_error(_post(closed_lot, body, tender.headers("operator", platform="gaoping")), 404, "not_found")
    assert tender.client.post(f"/lots/{closed_lot['lot_id']}/expert-draws", json=body).status_code == 401
    path = f"/lots/{closed_lot['lot_id']}/expert-draws"
    for role in ("bidder", "expert"):
        assert tender.client.get(path, headers=tender.headers(role, org=str(uuid.uuid4()))).status_code == 403
    expect_error(tender.client.get(path, headers=tender.headers("supervisor", platform="gaoping")), 404, "not_found")
    for headers in (tender.headers("agency", org=AGENCY), tender.headers("operator"), tender.headers("supervisor")):
        assert tender.client.get(path, headers=headers).status_code == 200
    # The operator of the lot's platform may ask on the organiser's behalf.
    assert _post(closed_lot, body, tender.headers("operator")).status_code == 201
