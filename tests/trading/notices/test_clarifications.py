"""Clarifications and amendments (澄清/修改): the 15-day rule, the deadline move, notifications."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from tests.trading.notices.conftest import AGENCY, PDF, upload


def deadline_of(connection, lot_id: str) -> datetime:
    return connection.execute(text("select bid_deadline from trading.lots where id = :id"), {"id": lot_id}).scalar_one()


def test_clarification_with_documents_notifies_downloaders(tender, outbox):
    tender.download("a")
    tender.download("b")
    client, organiser = tender.client, tender.organiser
    lot = tender.lots[0]
    draft = client.post(f"/lots/{lot['id']}/clarifications", json={"body": "工期由180天改为150天"}, headers=organiser)
    assert draft.status_code == 201, draft.text
    cid = draft.json()["id"]
    assert draft.json()["status"] == "draft" and draft.json()["notice_id"] == tender.notice["id"]
    amended = upload(client, f"/clarifications/{cid}/documents", organiser, content=PDF + b" v2", filename="修改.pdf")
    assert amended.status_code == 201, amended.text
    # Drafts are not public.
    assert client.get(f"/public/notices/{tender.notice['id']}").json()["clarifications"] == []

    published = client.post(f"/clarifications/{cid}/publish", headers=organiser)  # no body: no move needed
    assert published.status_code == 200, published.text
    body = published.json()
    assert body["status"] == "published" and body["issued_at"]
    assert body["previous_bid_deadline"] is None and body["new_bid_deadline"] is None
    assert [d["id"] for d in body["documents"]] == [amended.json()["id"]]
    public = client.get(f"/public/notices/{tender.notice['id']}").json()
    assert [c["id"] for c in public["clarifications"]] == [cid]
    assert public["clarifications"][0]["documents"][0]["filename"] == "修改.pdf"

    for name in ("a", "b"):
        notes = client.get("/notifications", headers=tender.bidder(name)).json()
        assert [(n["clarification_id"], n["lot_id"], n["read_at"]) for n in notes] == [(cid, lot["id"], None)]
    assert client.get("/notifications", headers=tender.bidder("never-downloaded")).json() == []
    event = outbox()[-1]
    assert event["action"] == "clarification.published" and event["object_id"] == cid
    assert set(event["change"]) == {"issued_at", "previous_bid_deadline", "new_bid_deadline", "documents"}

    # Clarification documents are downloadable by any bidder until the deadline, and recorded.
    got = client.get(f"/documents/{amended.json()['id']}/content", headers=tender.bidder("c"))
    assert got.status_code == 200 and got.content == PDF + b" v2"


def test_late_clarification_must_move_the_deadline(tender, set_times, connection, outbox, expect_error):
    lot = tender.lots[0]
    set_times(lot["id"], bid_deadline=timedelta(days=10))
    draft = tender.client.post(f"/lots/{lot['id']}/clarifications", json={"body": "更正"}, headers=tender.organiser)
    publish = f"/clarifications/{draft.json()['id']}/publish"
    details = expect_error(
        tender.client.post(publish, headers=tender.organiser), 422, "clarification_requires_deadline_move"
    )
    assert details["basis"] == "招标投标法实施条例 第二十一条"
    too_soon = datetime.now(UTC) + timedelta(days=14)
    expect_error(
        tender.client.post(publish, json={"new_bid_deadline": too_soon.isoformat()}, headers=tender.organiser),
        422,
        "clarification_requires_deadline_move",
    )
    earlier = datetime.now(UTC) + timedelta(days=5)
    expect_error(
        tender.client.post(publish, json={"new_bid_deadline": earlier.isoformat()}, headers=tender.organiser),
        422,
        "deadline_not_later",
    )
    old = deadline_of(connection, lot["id"])
    new = (datetime.now(UTC) + timedelta(days=16)).replace(microsecond=0)
    moved = tender.client.post(publish, json={"new_bid_deadline": new.isoformat()}, headers=tender.organiser)
    assert moved.status_code == 200, moved.text
    assert datetime.fromisoformat(moved.json()["new_bid_deadline"]) == new
    assert datetime.fromisoformat(moved.json()["previous_bid_deadline"]) == old
    assert deadline_of(connection, lot["id"]) == new
    actions = [e["action"] for e in outbox()[-2:]]
    assert actions == ["lot.deadline_moved", "clarification.published"]
    public = tender.client.get(f"/public/notices/{tender.notice['id']}").json()
    assert datetime.fromisoformat(public["lots"][0]["bid_deadline"]) == new
    expect_error(tender.client.post(publish, headers=tender.organiser), 409, "clarification_already_published")


def test_clarification_refusals(tender, trading, user, draft_notice, set_times, expect_error):
    _, draft_lots, _ = draft_notice(lot_count=1)
    organiser = tender.organiser
    expect_error(
        trading.post(f"/lots/{draft_lots[0]['id']}/clarifications", json={"body": "x"}, headers=organiser),
        409,
        "lot_not_published",
    )
    lot = tender.lots[0]["id"]
    path = f"/lots/{lot}/clarifications"
    expect_error(trading.post(path, json={"body": ""}, headers=organiser), 422, "validation_error")
    expect_error(trading.post(path, json={"body": "x", "extra": 1}, headers=organiser), 422, "validation_error")
    expect_error(
        trading.post(f"/lots/{uuid.uuid4()}/clarifications", json={"body": "x"}, headers=organiser), 404, "not_found"
    )
    cid = trading.post(path, json={"body": "更正"}, headers=organiser).json()["id"]
    publish = f"/clarifications/{cid}/publish"
    expect_error(
        trading.post(publish, json={"new_bid_deadline": "2027-01-01T10:00:00"}, headers=organiser),
        422,
        "validation_error",
    )  # no time zone
    expect_error(trading.post(publish, json={"new_bid_deadline": "soon"}, headers=organiser), 422, "validation_error")
    expect_error(trading.post(publish, json={"other": 1}, headers=organiser), 422, "validation_error")
    set_times(lot, bid_deadline=timedelta(minutes=-1))
    expect_error(trading.post(publish, headers=organiser), 409, "deadline_passed")
    expect_error(trading.get(f"/clarifications/{uuid.uuid4()}", headers=organiser), 404, "not_found")


def test_clarification_roles_and_counties(tender, service, expect_error):
    client = tender.client
    lot = tender.lots[0]["id"]
    cid = client.post(f"/lots/{lot}/clarifications", json={"body": "更正"}, headers=tender.organiser).json()["id"]
    writes: list[tuple[str, dict[str, Any]]] = [
        (f"/lots/{lot}/clarifications", {"json": {"body": "更正"}}),
        (f"/clarifications/{cid}/documents", {"params": {"filename": "a.pdf"}, "content": PDF}),
        (f"/clarifications/{cid}/publish", {}),
    ]
    for path, kwargs in writes:
        for role in ("bidder", "operator", "supervisor", "expert", "admin"):
            expect_error(client.post(path, headers=tender.headers(role), **kwargs), 403, "forbidden_role")
        expect_error(
            client.post(path, headers=tender.headers("agency", org=str(uuid.uuid4())), **kwargs), 404, "not_found"
        )
        expect_error(
            client.post(path, headers=tender.headers("agency", platform="gaoping", org=AGENCY), **kwargs),
            404,
            "not_found",
        )
    read = f"/clarifications/{cid}"
    assert client.get(read, headers=tender.headers("operator")).status_code == 200
    assert client.get(read, headers=tender.headers("tenderee", org=tender.project["tenderee_org"])).status_code == 200
    expect_error(client.get(read, headers=tender.headers("supervisor")), 404, "not_found")  # a draft
    expect_error(client.get(read, headers=tender.headers("operator", platform="gaoping")), 404, "not_found")
    expect_error(client.get(read, headers=tender.headers("bidder")), 403, "forbidden_role")
    assert client.post(f"/clarifications/{cid}/publish", headers=tender.organiser).status_code == 200
    assert client.get(read, headers=tender.headers("supervisor")).status_code == 200
    assert client.get(read, headers=service("trading:read")).status_code == 200


def test_notifications_are_the_organisations_own(tender, expect_error, outbox):
    tender.download("a")
    assert tender.clarify().status_code == 200
    client = tender.client
    [note] = client.get("/notifications", headers=tender.bidder("a")).json()
    path = f"/notifications/{note['id']}/read"
    # Another organisation cannot see or mark it.
    expect_error(client.post(path, headers=tender.bidder("b")), 404, "not_found")
    for role in ("operator", "agency", "supervisor"):
        expect_error(client.post(path, headers=tender.headers(role, org=AGENCY)), 403, "forbidden_role")
        expect_error(client.get("/notifications", headers=tender.headers(role, org=AGENCY)), 403, "forbidden_role")
    expect_error(client.get("/notifications", headers=tender.headers("bidder")), 403, "no_organisation")
    read = client.post(path, headers=tender.bidder("a"))
    assert read.status_code == 200 and read.json()["read_at"]
    assert outbox()[-1]["action"] == "notification.read"
    again = client.post(path, headers=tender.bidder("a"))
    assert again.json()["read_at"] == read.json()["read_at"]
    assert client.get("/notifications", params={"unread_only": True}, headers=tender.bidder("a")).json() == []
    assert len(client.get("/notifications", headers=tender.bidder("a")).json()) == 1
    expect_error(client.post(f"/notifications/{uuid.uuid4()}/read", headers=tender.bidder("a")), 404, "not_found")
    expect_error(client.post("/notifications/x/read", headers=tender.bidder("a")), 422, "validation_error")
    for params in ({"limit": 0}, {"limit": 501}, {"offset": -1}, {"offset": 2**63}, {"unread_only": "maybe"}):
        expect_error(client.get("/notifications", params=params, headers=tender.bidder("a")), 422, "validation_error")
