"""Objections to the tender documents (异议): 10 days before the deadline, suspension until the
reply, reply due in 3 days."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import text

from tests.trading.notices.conftest import AGENCY, PDF, upload

OBJECTION = {"body": "评分标准第3项排斥潜在投标人，请予修改。"}


def lot_status(client, notice_id: str, lot_id: str) -> str:
    lots = client.get(f"/public/notices/{notice_id}").json()["lots"]
    return next(lot["status"] for lot in lots if lot["id"] == lot_id)


def test_objection_suspends_until_replied(tender, outbox, expect_error):
    client, lot = tender.client, tender.lots[0]["id"]
    filed = client.post(f"/lots/{lot}/objections", json=OBJECTION, headers=tender.bidder("a"))
    assert filed.status_code == 201, filed.text
    objection = filed.json()
    assert objection["status"] == "pending" and objection["overdue"] is False
    assert objection["objector_org"] == tender.bidders["a"]  # the objector sees its own
    due = datetime.fromisoformat(objection["reply_due_at"]) - datetime.fromisoformat(objection["filed_at"])
    assert due == timedelta(days=3)
    assert [e["action"] for e in outbox()[-2:]] == ["objection.filed", "lot.suspended"]
    assert lot_status(client, tender.notice["id"], lot) == "suspended"
    assert client.get(f"/public/notices/{tender.notice['id']}").json()["tender_status"] == "suspended"
    suspended = {n["id"] for n in client.get("/public/notices", params={"status": "suspended"}).json()}
    assert tender.notice["id"] in suspended

    # While suspended: no clarification, no new documents for the lot.
    expect_error(
        client.post(f"/lots/{lot}/clarifications", json={"body": "x"}, headers=tender.organiser), 409, "lot_suspended"
    )
    second = client.post(f"/lots/{lot}/objections", json=OBJECTION, headers=tender.bidder("b")).json()

    reply = client.post(f"/objections/{objection['id']}/reply", json={"reply": "已修改。"}, headers=tender.organiser)
    assert reply.status_code == 200, reply.text
    assert reply.json()["status"] == "replied" and reply.json()["reply"] == "已修改。"
    assert lot_status(client, tender.notice["id"], lot) == "suspended"  # the second is still pending
    expect_error(
        client.post(f"/objections/{objection['id']}/reply", json={"reply": "再答"}, headers=tender.organiser),
        409,
        "objection_already_replied",
    )
    client.post(f"/objections/{second['id']}/reply", json={"reply": "不予采纳，理由如下。"}, headers=tender.organiser)
    assert lot_status(client, tender.notice["id"], lot) == "active"
    assert [e["action"] for e in outbox()[-2:]] == ["objection.replied", "lot.resumed"]
    assert client.post(f"/lots/{lot}/clarifications", json={"body": "x"}, headers=tender.organiser).status_code == 201
    mine = client.get("/objections", headers=tender.bidder("a")).json()
    assert [(o["id"], o["reply"]) for o in mine] == [(objection["id"], "已修改。")]


def test_suspension_blocks_uploads_and_clarification_publishing(tender, expect_error):
    client, lot = tender.client, tender.lots[0]["id"]
    cid = client.post(f"/lots/{lot}/clarifications", json={"body": "更正"}, headers=tender.organiser).json()["id"]
    client.post(f"/lots/{lot}/objections", json=OBJECTION, headers=tender.bidder("a"))
    expect_error(upload(client, f"/clarifications/{cid}/documents", tender.organiser), 409, "lot_suspended")
    expect_error(client.post(f"/clarifications/{cid}/publish", headers=tender.organiser), 409, "lot_suspended")
    # A draft notice covering the suspended lot takes no documents either.
    draft = client.post(
        f"/projects/{tender.project['id']}/notices",
        json={"title": "补充公告", "body": "正文", "lot_ids": [lot]},
        headers=tender.organiser,
    ).json()
    expect_error(upload(client, f"/notices/{draft['id']}/documents", tender.organiser), 409, "lot_suspended")
    # The other lot of the notice is not suspended.
    other = tender.lots[1]["id"]
    assert client.post(f"/lots/{other}/clarifications", json={"body": "x"}, headers=tender.organiser).status_code == 201


def test_objection_too_late_and_other_refusals(tender, trading, draft_notice, set_times, expect_error):
    lot = tender.lots[0]["id"]
    set_times(lot, bid_deadline=timedelta(days=10, minutes=-1))
    details = expect_error(
        trading.post(f"/lots/{lot}/objections", json=OBJECTION, headers=tender.bidder()), 422, "objection_too_late"
    )
    assert details["basis"] == "招标投标法实施条例 第二十二条"
    set_times(lot, bid_deadline=timedelta(days=10, minutes=1))
    assert trading.post(f"/lots/{lot}/objections", json=OBJECTION, headers=tender.bidder()).status_code == 201
    _, draft_lots, _ = draft_notice(lot_count=1)
    expect_error(
        trading.post(f"/lots/{draft_lots[0]['id']}/objections", json=OBJECTION, headers=tender.bidder()),
        404,
        "not_found",
    )
    other = tender.lots[1]["id"]
    expect_error(
        trading.post(f"/lots/{uuid.uuid4()}/objections", json=OBJECTION, headers=tender.bidder()), 404, "not_found"
    )
    expect_error(
        trading.post(f"/lots/{other}/objections", json={"body": "短"}, headers=tender.bidder()), 422, "validation_error"
    )
    expect_error(
        trading.post(f"/lots/{other}/objections", json={**OBJECTION, "x": 1}, headers=tender.bidder()),
        422,
        "validation_error",
    )
    expect_error(
        trading.post(f"/lots/{other}/objections", json=OBJECTION, headers=tender.headers("bidder")),
        403,
        "no_organisation",
    )


def test_overdue_replies_are_flagged(tender, connection):
    filed = tender.client.post(f"/lots/{tender.lots[0]['id']}/objections", json=OBJECTION, headers=tender.bidder())
    connection.execute(
        text("update trading.objections set reply_due_at = clock_timestamp() - interval '1 minute' where id = :id"),
        {"id": filed.json()["id"]},
    )
    [listed] = tender.client.get(f"/lots/{tender.lots[0]['id']}/objections", headers=tender.organiser).json()
    assert listed["overdue"] is True
    replied = tender.client.post(
        f"/objections/{listed['id']}/reply", json={"reply": "迟复"}, headers=tender.organiser
    ).json()
    assert replied["overdue"] is False


def test_who_sees_objections(tender, service, set_times, expect_error):
    client, lot = tender.client, tender.lots[0]["id"]
    objection = client.post(f"/lots/{lot}/objections", json=OBJECTION, headers=tender.bidder("a")).json()
    path = f"/lots/{lot}/objections"
    readers = (
        tender.organiser,
        tender.headers("tenderee", org=tender.project["tenderee_org"]),
        tender.headers("operator"),
        tender.headers("supervisor"),
        service("trading:read"),
    )
    for headers in readers:
        [seen] = client.get(path, headers=headers).json()
        assert seen["id"] == objection["id"] and seen["objector_org"] is None  # secret before the deadline
    expect_error(client.get(path, headers=tender.headers("operator", platform="gaoping")), 404, "not_found")
    expect_error(client.get(path, headers=tender.headers("agency", org=str(uuid.uuid4()))), 404, "not_found")
    expect_error(client.get(path, headers=tender.headers("bidder")), 403, "forbidden_role")
    assert client.get("/objections", headers=tender.bidder("b")).json() == []
    for role in ("operator", "agency", "supervisor"):
        expect_error(client.get("/objections", headers=tender.headers(role, org=AGENCY)), 403, "forbidden_role")
    for params in ({"limit": 0}, {"offset": -1}):
        expect_error(client.get("/objections", params=params, headers=tender.bidder("a")), 422, "validation_error")
    set_times(lot, bid_deadline=timedelta(seconds=-1))
    assert client.get(path, headers=tender.headers("operator")).json()[0]["objector_org"] == tender.bidders["a"]


def test_reply_roles_and_counties(tender, expect_error):
    client = tender.client
    objection = client.post(f"/lots/{tender.lots[0]['id']}/objections", json=OBJECTION, headers=tender.bidder()).json()
    path = f"/objections/{objection['id']}/reply"
    body = {"reply": "答复"}
    for role in ("bidder", "operator", "supervisor", "expert", "admin"):
        expect_error(client.post(path, json=body, headers=tender.headers(role, org=AGENCY)), 403, "forbidden_role")
    expect_error(
        client.post(path, json=body, headers=tender.headers("agency", org=str(uuid.uuid4()))), 404, "not_found"
    )
    expect_error(
        client.post(path, json=body, headers=tender.headers("agency", platform="gaoping", org=AGENCY)), 404, "not_found"
    )
    expect_error(client.post(path, json={"reply": ""}, headers=tender.organiser), 422, "validation_error")
    expect_error(
        client.post(f"/objections/{uuid.uuid4()}/reply", json=body, headers=tender.organiser), 404, "not_found"
    )
    for role in ("operator", "agency", "tenderee"):
        expect_error(
            client.post(
                f"/lots/{tender.lots[1]['id']}/objections", json=OBJECTION, headers=tender.headers(role, org=AGENCY)
            ),
            403,
            "forbidden_role",
        )
    # Bidders of every platform may object (no regional barrier).
    county = client.post(
        f"/lots/{tender.lots[1]['id']}/objections", json=OBJECTION, headers=tender.bidder("q", platform="qinshui")
    )
    assert county.status_code == 201
    assert upload(client, "/notices/x/documents", tender.organiser, content=PDF).status_code == 422
