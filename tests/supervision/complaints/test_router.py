"""Complaints through the API, with trading's real app answering supervision's lot look-ups."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from shared.clients.trading import TradingClient
from tests.support.inprocess import InProcessTransport
from tests.trading.lots.test_router import lot_body
from tests.trading.projects.test_router import AGENCY, project_body

BIDDER_ORG = str(uuid.uuid4())


@pytest.fixture
def platform(make_client, issuer):
    """Trading and supervision apps; supervision's trading client goes to the real trading app."""
    trading = make_client("trading")
    supervision = make_client("supervision")
    service_token = issuer.token(
        sub="svc-supervision", typ="service", aud="trading", scope="trading:read trading:suspend"
    )
    supervision.app.state.trading = TradingClient(
        "http://trading", transport=InProcessTransport(trading), token_provider=lambda: service_token
    )
    return trading, supervision


@pytest.fixture
def lot(platform, issuer):
    def make(category: str = "engineering_works", region: str = "140502") -> dict[str, Any]:
        trading, _ = platform
        agency = issuer.headers(sub="agency-1", roles=["agency"], org=AGENCY, aud="trading")
        project = trading.post(
            "/projects", json=project_body(category_code=category, region_code=region), headers=agency
        ).json()
        body = lot_body(evaluation={"method": "lowest_evaluated_price"})
        if category.startswith("gp_"):
            body["deposit"] = {"required": False}
        response = trading.post(f"/projects/{project['id']}/lots", json=body, headers=agency)
        assert response.status_code == 201, response.text
        return dict(response.json())

    return make


def bidder(issuer, org: str = BIDDER_ORG) -> dict[str, str]:
    return issuer.headers(sub=f"bidder-{org[:4]}", roles=["bidder"], org=org, aud="supervision")


def supervisor(issuer, platform: str = "jincheng") -> dict[str, str]:
    return issuer.headers(sub=f"sup-{platform}", roles=["supervisor"], platform=platform, aud="supervision")


def complaint_body(lot_id: str, **overrides: Any) -> dict[str, Any]:
    today = datetime.now(UTC).date()
    return {
        "lot_id": lot_id,
        "matter": "other",
        "facts": "某投标人与招标人存在利害关系，影响公正。",
        "request": "请求责令改正",
        "knew_on": (today - timedelta(days=2)).isoformat(),
        **overrides,
    }


def outbox_actions(connection) -> list[str]:
    rows = connection.execute(
        text("select action from supervision.audit_outbox where xid = (pg_current_xact_id()::text)::bigint order by id")
    )
    return [r[0] for r in rows]


def test_file_accept_decide_publish(platform, lot, issuer, connection):
    _, supervision = platform
    target = lot()
    filed = supervision.post("/complaints", json=complaint_body(target["id"]), headers=bidder(issuer))
    assert filed.status_code == 201, filed.text
    complaint = filed.json()
    assert complaint["platform"] == "jincheng" and complaint["law"] == "bidding_law"
    assert complaint["status"] == "filed" and not complaint["overdue"]
    cid = complaint["id"]
    accepted = supervision.post(f"/complaints/{cid}/accept", headers=supervisor(issuer)).json()
    assert accepted["status"] == "accepted" and accepted["decide_due_on"] > accepted["accept_due_on"]
    decided = supervision.post(
        f"/complaints/{cid}/decide",
        json={"decision": "投诉成立，责令改正", "reasons": "经查，存在利害关系。"},
        headers=supervisor(issuer),
    ).json()
    assert decided["status"] == "decided"
    assert supervision.get("/public/complaint-decisions").json() == []  # not yet published
    supervision.post(f"/complaints/{cid}/publish", headers=supervisor(issuer))
    public = supervision.get("/public/complaint-decisions").json()
    assert [d["id"] for d in public] == [cid] and "facts" not in public[0]
    assert outbox_actions(connection) == [
        "complaint.filed",
        "complaint.accepted",
        "complaint.decided",
        "complaint.decision_published",
    ]


def test_filing_limits_are_enforced(platform, lot, issuer, expect_error):
    _, supervision = platform
    target = lot()
    old = (datetime.now(UTC).date() - timedelta(days=30)).isoformat()
    details = expect_error(
        supervision.post("/complaints", json=complaint_body(target["id"], knew_on=old), headers=bidder(issuer)),
        422,
        "complaint_rule_violated",
    )
    assert details["violations"][0]["rule"] == "complaint_too_late"
    assert "第六十条" in details["violations"][0]["basis"]
    first = expect_error(
        supervision.post("/complaints", json=complaint_body(target["id"], matter="opening"), headers=bidder(issuer)),
        422,
        "complaint_rule_violated",
    )
    assert first["violations"][0]["rule"] == "objection_required"
    gp = lot(category="gp_goods")
    challenge = expect_error(
        supervision.post("/complaints", json=complaint_body(gp["id"]), headers=bidder(issuer)),
        422,
        "complaint_rule_violated",
    )
    assert challenge["violations"][0]["rule"] == "challenge_required"


def test_answers_follow_the_status(platform, lot, issuer, expect_error):
    _, supervision = platform
    cid = supervision.post("/complaints", json=complaint_body(lot()["id"]), headers=bidder(issuer)).json()["id"]
    expect_error(
        supervision.post(
            f"/complaints/{cid}/decide", json={"decision": "x" * 3, "reasons": "y" * 6}, headers=supervisor(issuer)
        ),
        409,
        "complaint_wrong_status",
    )
    refused = supervision.post(
        f"/complaints/{cid}/refuse", json={"reason": "不属于受理范围。"}, headers=supervisor(issuer)
    )
    assert refused.json()["status"] == "refused"
    expect_error(
        supervision.post(f"/complaints/{cid}/accept", headers=supervisor(issuer)), 409, "complaint_wrong_status"
    )


def test_overdue_answers_are_flagged(platform, lot, issuer, connection):
    _, supervision = platform
    cid = supervision.post("/complaints", json=complaint_body(lot()["id"]), headers=bidder(issuer)).json()["id"]
    connection.execute(
        text("update supervision.complaints set accept_due_on = current_date - 1 where id = :id"), {"id": cid}
    )
    assert supervision.get(f"/complaints/{cid}", headers=supervisor(issuer)).json()["overdue"] is True
    late = supervision.get("/complaints?overdue=true", headers=supervisor(issuer)).json()
    assert [c["id"] for c in late] == [cid]
    assert supervision.get("/complaints?overdue=false", headers=supervisor(issuer)).json() == []


def test_who_sees_a_complaint(platform, lot, issuer, expect_error):
    _, supervision = platform
    gaoping_lot = lot(region="140581")
    cid = supervision.post("/complaints", json=complaint_body(gaoping_lot["id"]), headers=bidder(issuer)).json()["id"]
    assert supervision.get(f"/complaints/{cid}", headers=bidder(issuer)).status_code == 200
    assert supervision.get(f"/complaints/{cid}", headers=supervisor(issuer, "gaoping")).status_code == 200
    assert supervision.get(f"/complaints/{cid}", headers=supervisor(issuer)).status_code == 200  # city
    expect_error(supervision.get(f"/complaints/{cid}", headers=supervisor(issuer, "yangcheng")), 404, "not_found")
    expect_error(
        supervision.post(f"/complaints/{cid}/accept", headers=supervisor(issuer, "yangcheng")), 404, "not_found"
    )
    expect_error(supervision.get(f"/complaints/{cid}", headers=bidder(issuer, str(uuid.uuid4()))), 404, "not_found")
    assert [c["id"] for c in supervision.get("/complaints/mine", headers=bidder(issuer)).json()] == [cid]
    assert supervision.get("/complaints", headers=supervisor(issuer, "yangcheng")).json() == []
    assert [c["id"] for c in supervision.get("/complaints", headers=supervisor(issuer, "gaoping")).json()] == [cid]


def test_wrong_roles(platform, lot, issuer, expect_error):
    _, supervision = platform
    target = lot()
    operator = issuer.headers(roles=["operator"], aud="supervision")
    expect_error(
        supervision.post("/complaints", json=complaint_body(target["id"]), headers=operator), 403, "forbidden_role"
    )
    cid = supervision.post("/complaints", json=complaint_body(target["id"]), headers=bidder(issuer)).json()["id"]
    expect_error(supervision.post(f"/complaints/{cid}/accept", headers=bidder(issuer)), 403, "forbidden_role")
    expect_error(supervision.get("/complaints", headers=operator), 403, "forbidden_role")
    no_org = issuer.headers(roles=["bidder"], aud="supervision")
    expect_error(
        supervision.post("/complaints", json=complaint_body(target["id"]), headers=no_org), 403, "no_organisation"
    )


def test_bad_input(platform, lot, issuer, expect_error):
    _, supervision = platform
    target = lot()
    expect_error(
        supervision.post("/complaints", json=complaint_body(str(uuid.uuid4())), headers=bidder(issuer)),
        404,
        "not_found",
    )  # trading does not know the lot
    expect_error(
        supervision.post("/complaints", json=complaint_body(target["id"], matter="gossip"), headers=bidder(issuer)),
        422,
        "validation_error",
    )
    expect_error(
        supervision.post("/complaints", json={**complaint_body(target["id"]), "x": 1}, headers=bidder(issuer)),
        422,
        "validation_error",
    )
    expect_error(supervision.get("/complaints?status=lost", headers=supervisor(issuer)), 422, "validation_error")
    expect_error(supervision.get(f"/complaints/{uuid.uuid4()}", headers=supervisor(issuer)), 404, "not_found")


def test_supervisor_suspends_and_resumes_the_lot_in_trading(platform, lot, issuer, connection, expect_error):
    trading, supervision = platform
    target = lot()
    cid = supervision.post("/complaints", json=complaint_body(target["id"]), headers=bidder(issuer)).json()["id"]
    operator = issuer.headers(roles=["operator"], aud="trading")
    expect_error(
        supervision.post(
            f"/complaints/{cid}/suspend-lot",
            json={"reason": "投诉处理期间暂停招标投标活动"},
            headers=supervisor(issuer, "gaoping"),
        ),
        404,
        "not_found",
    )
    expect_error(
        supervision.post(
            f"/complaints/{cid}/suspend-lot", json={"reason": "投诉处理期间暂停招标投标活动"}, headers=bidder(issuer)
        ),
        403,
        "forbidden_role",
    )
    suspended = supervision.post(
        f"/complaints/{cid}/suspend-lot", json={"reason": "投诉处理期间暂停招标投标活动"}, headers=supervisor(issuer)
    )
    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["lot_suspended"] is True
    assert trading.get(f"/lots/{target['id']}", headers=operator).json()["status"] == "suspended"
    resumed = supervision.post(f"/complaints/{cid}/resume-lot", headers=supervisor(issuer)).json()
    assert resumed["lot_suspended"] is False
    assert trading.get(f"/lots/{target['id']}", headers=operator).json()["status"] == "active"
    trading_actions = [
        r[0]
        for r in connection.execute(
            text("select action from trading.audit_outbox where lot_id = :lot order by id"), {"lot": target["id"]}
        )
    ]
    assert trading_actions[-2:] == ["lot.suspended", "lot.resumed"]
    assert outbox_actions(connection)[-2:] == ["complaint.lot_suspended", "complaint.lot_resumed"]


def test_trading_unreachable_is_a_503_not_a_silent_success(platform, lot, issuer, expect_error):
    _, supervision = platform
    target = lot()
    cid = supervision.post("/complaints", json=complaint_body(target["id"]), headers=bidder(issuer)).json()["id"]
    supervision.app.state.trading = TradingClient("http://127.0.0.1:9", timeout=0.5, retries=0)
    expect_error(
        supervision.post(
            f"/complaints/{cid}/suspend-lot",
            json={"reason": "投诉处理期间暂停招标投标活动"},
            headers=supervisor(issuer),
        ),
        503,
        "dependency_unavailable",
    )
    assert supervision.get(f"/complaints/{cid}", headers=supervisor(issuer)).json()["lot_suspended"] is False
