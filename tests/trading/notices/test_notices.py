"""Tender notices: drafted by the organiser, documents streamed in, published, read by the public."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from typing import Any

from tests.trading.notices.conftest import AGENCY, PDF, TENDEREE, upload


def test_draft_upload_publish_with_audit(trading, user, draft_notice, outbox, storage_dir):
    project, _, notice = draft_notice()
    organiser = user("agency", org=AGENCY)
    assert notice["status"] == "draft" and notice["published_at"] is None
    assert [lot["lot_no"] for lot in notice["lots"]] == [1, 2]
    assert notice["project_code"] == project["code"] and notice["tender_status"] == "open"

    response = upload(trading, f"/notices/{notice['id']}/documents", organiser)
    assert response.status_code == 201, response.text
    document = response.json()
    assert document["sha256"] == hashlib.sha256(PDF).hexdigest() and document["size"] == len(PDF)
    assert (document["filename"], document["content_type"]) == ("招标文件.pdf", "application/pdf")
    sha = document["sha256"]
    assert (storage_dir / sha[:2] / sha[2:4] / sha).read_bytes() == PDF

    published = trading.post(f"/notices/{notice['id']}/publish", headers=organiser)
    assert published.status_code == 200, published.text
    body = published.json()
    assert body["status"] == "published" and body["published_at"]
    assert [d["id"] for d in body["documents"]] == [document["id"]]
    actions = [e["action"] for e in outbox()]
    assert actions[-3:] == ["notice.drafted", "document.uploaded", "notice.published"]
    event = outbox()[-1]
    assert event["object_id"] == notice["id"] and event["change"]["documents"] == [sha]


def test_tenderee_organises_too_and_same_content_is_stored_once(trading, user, draft_notice, storage_dir):
    _, _, notice = draft_notice()
    path = f"/notices/{notice['id']}/documents"
    first = upload(trading, path, user("tenderee", org=TENDEREE)).json()
    second = upload(trading, path, user("agency", org=AGENCY), filename="副本.pdf").json()
    assert first["id"] != second["id"] and first["sha256"] == second["sha256"]
    assert len([p for p in storage_dir.rglob("*") if p.is_file()]) == 1


def test_drafts_are_the_organisers_and_staffs(trading, user, service, draft_notice, expect_error):
    project, _, notice = draft_notice()
    path = f"/notices/{notice['id']}"
    for headers in (user("agency", org=AGENCY), user("tenderee", org=TENDEREE), user("operator"), user("admin")):
        assert trading.get(path, headers=headers).status_code == 200
    for headers in (user("supervisor"), service("trading:read")):
        expect_error(trading.get(path, headers=headers), 404, "not_found")
        assert trading.get(f"/projects/{project['id']}/notices", headers=headers).json() == []
    expect_error(trading.get(f"/public/notices/{notice['id']}"), 404, "not_found")
    assert notice["id"] not in {n["id"] for n in trading.get("/public/notices").json()}
    listed = trading.get(f"/projects/{project['id']}/notices", headers=user("operator")).json()
    assert [n["id"] for n in listed] == [notice["id"]]


def test_published_notice_reads(tender, service, expect_error):
    client, path = tender.client, f"/notices/{tender.notice['id']}"
    for headers in (
        tender.organiser,
        tender.headers("operator"),
        tender.headers("supervisor"),
        service("trading:read"),
    ):
        assert client.get(path, headers=headers).json()["id"] == tender.notice["id"]
    public = client.get(f"/public/notices/{tender.notice['id']}")
    assert public.status_code == 200
    assert public.json()["documents"] == tender.notice["documents"]
    assert {"id", "filename", "size", "sha256", "content_type", "created_at"} == set(public.json()["documents"][0])


def test_notice_write_roles_and_counties(trading, user, draft_notice, expect_error):
    project, lots, notice = draft_notice()
    create = f"/projects/{project['id']}/notices"
    body = {"title": "招标公告", "body": "正文", "lot_ids": [lots[0]["id"]]}
    writes: list[tuple[str, str, dict[str, Any]]] = [
        ("post", create, {"json": body}),
        ("post", f"/notices/{notice['id']}/documents", {"params": {"filename": "a.pdf"}, "content": PDF}),
        ("post", f"/notices/{notice['id']}/publish", {}),
    ]
    for method, path, kwargs in writes:
        for role in ("bidder", "operator", "supervisor", "expert", "admin"):
            expect_error(getattr(trading, method)(path, headers=user(role), **kwargs), 403, "forbidden_role")
        other_org = user("agency", org=str(uuid.uuid4()))
        expect_error(getattr(trading, method)(path, headers=other_org, **kwargs), 404, "not_found")
        other_county = user("agency", platform="gaoping", org=AGENCY)
        expect_error(getattr(trading, method)(path, headers=other_county, **kwargs), 404, "not_found")
        expect_error(getattr(trading, method)(path, **kwargs), 401, "unauthenticated")


def test_notice_read_roles_and_counties(trading, user, service, draft_notice, expect_error):
    project, _, notice = draft_notice()
    for path in (f"/projects/{project['id']}/notices", f"/notices/{notice['id']}"):
        expect_error(trading.get(path, headers=user("bidder")), 403, "forbidden_role")
        expect_error(trading.get(path, headers=user("expert")), 403, "forbidden_role")
        expect_error(trading.get(path, headers=user("operator", platform="gaoping")), 404, "not_found")
        expect_error(trading.get(path, headers=service("trading:read", platform="qinshui")), 404, "not_found")
        expect_error(trading.get(path, headers=user("agency", org=str(uuid.uuid4()))), 404, "not_found")
        expect_error(trading.get(path, headers=service("credit:read")), 403, "insufficient_scope")


def test_county_project_is_read_by_its_county_only(trading, user, draft_notice, expect_error):
    _, _, notice = draft_notice(region_code="140581")  # Gaoping
    path = f"/notices/{notice['id']}"
    assert trading.get(path, headers=user("operator", platform="gaoping")).status_code == 200
    assert trading.get(path, headers=user("operator")).status_code == 200  # the city sees all
    expect_error(trading.get(path, headers=user("operator", platform="yangcheng")), 404, "not_found")


def test_bad_notice_input(trading, user, draft_notice, expect_error):
    project, lots, _ = draft_notice()
    other, other_lots, _ = draft_notice(lot_count=1)
    path = f"/projects/{project['id']}/notices"
    headers = user("agency", org=AGENCY)
    good = {"title": "招标公告", "body": "正文", "lot_ids": [lots[0]["id"]]}

    def post(**changes):
        return trading.post(path, json={**good, **changes}, headers=headers)

    expect_error(post(lot_ids=[]), 422, "validation_error")
    expect_error(post(lot_ids=[lots[0]["id"], lots[0]["id"]]), 422, "validation_error")
    expect_error(post(lot_ids=["not-a-uuid"]), 422, "validation_error")
    details = expect_error(post(lot_ids=[other_lots[0]["id"]]), 422, "unknown_lots")
    assert details == {"lot_ids": [other_lots[0]["id"]]}
    expect_error(post(title="x" * 201), 422, "validation_error")
    expect_error(post(body="a\u0000b"), 422, "validation_error")
    expect_error(post(extra=1), 422, "validation_error")
    expect_error(trading.post(path, content=b"{", headers=headers), 422, "validation_error")
    expect_error(trading.post(f"/projects/{uuid.uuid4()}/notices", json=good, headers=headers), 404, "not_found")
    expect_error(trading.get("/notices/not-a-uuid", headers=headers), 422, "validation_error")
    expect_error(trading.get(f"/notices/{uuid.uuid4()}", headers=headers), 404, "not_found")
    assert other["id"] != project["id"]


def test_publish_refusals(trading, user, draft_notice, expect_error, set_times):
    _, lots, notice = draft_notice()
    organiser = user("agency", org=AGENCY)
    publish = f"/notices/{notice['id']}/publish"
    expect_error(trading.post(publish, headers=organiser), 422, "notice_without_documents")
    upload(trading, f"/notices/{notice['id']}/documents", organiser)
    set_times(lots[1]["id"], bid_deadline=timedelta(days=19))
    details = expect_error(trading.post(publish, headers=organiser), 422, "bidding_period_too_short")
    assert details["lot_id"] == lots[1]["id"] and "第二十四条" in details["basis"]
    set_times(lots[1]["id"], bid_deadline=timedelta(minutes=-1))
    expect_error(trading.post(publish, headers=organiser), 409, "deadline_passed")
    set_times(lots[1]["id"], bid_deadline=timedelta(days=20, minutes=1))
    assert trading.post(publish, headers=organiser).status_code == 200
    expect_error(trading.post(publish, headers=organiser), 409, "notice_already_published")
    expect_error(upload(trading, f"/notices/{notice['id']}/documents", organiser), 409, "notice_published")
    # A second notice for a lot already announced cannot be published.
    second = trading.post(
        f"/projects/{notice['project_id']}/notices",
        json={"title": "重复公告", "body": "正文", "lot_ids": [lots[0]["id"]]},
        headers=organiser,
    ).json()
    upload(trading, f"/notices/{second['id']}/documents", organiser)
    details = expect_error(
        trading.post(f"/notices/{second['id']}/publish", headers=organiser), 409, "lot_already_announced"
    )
    assert details == {"lot_ids": [lots[0]["id"]]}


def test_public_list_filters_and_pages(trading, user, tender, draft_notice, expect_error):
    # Two more published notices: a Gaoping one and a government-procurement one.
    organiser = user("agency", org=AGENCY)
    ids = {}
    no_deposit = {"deposit": {"required": False}}
    for key, overrides in {"gaoping": {"region_code": "140581"}, "gp": {"category_code": "gp_goods"}}.items():
        _, _, notice = draft_notice(lot_count=1, lot=no_deposit, **overrides)
        upload(trading, f"/notices/{notice['id']}/documents", organiser)
        assert trading.post(f"/notices/{notice['id']}/publish", headers=organiser).status_code == 200
        ids[key] = notice["id"]
    everything = trading.get("/public/notices", params={"limit": 100}).json()
    mine = [n["id"] for n in everything if n["id"] in {*ids.values(), tender.notice["id"]}]
    assert mine == [ids["gp"], ids["gaoping"], tender.notice["id"]]  # newest first
    assert all(n["status"] == "published" for n in everything)
    gaoping = trading.get("/public/notices", params={"platform": "gaoping", "limit": 100}).json()
    assert ids["gaoping"] in {n["id"] for n in gaoping} and {n["platform"] for n in gaoping} == {"gaoping"}
    gp = trading.get("/public/notices", params={"category_code": "gp_goods", "limit": 100}).json()
    assert ids["gp"] in {n["id"] for n in gp} and {n["category_code"] for n in gp} == {"gp_goods"}
    page = trading.get("/public/notices", params={"limit": 1}).json()
    after = trading.get("/public/notices", params={"limit": 1, "after": page[0]["id"]}).json()
    assert page[0]["id"] == everything[0]["id"] and after[0]["id"] == everything[1]["id"]

    expect_error(trading.get("/public/notices", params={"platform": "beijing"}), 422, "unknown_platform")
    expect_error(trading.get("/public/notices", params={"status": "secret"}), 422, "validation_error")
    expect_error(trading.get("/public/notices", params={"limit": 0}), 422, "validation_error")
    expect_error(trading.get("/public/notices", params={"limit": 101}), 422, "validation_error")
    expect_error(trading.get("/public/notices", params={"after": str(uuid.uuid4())}), 422, "invalid_cursor")
    expect_error(trading.get("/public/notices", params={"after": "1"}), 422, "validation_error")
    expect_error(trading.get("/public/notices", params={"category_code": "x" * 41}), 422, "validation_error")
    expect_error(trading.get("/public/notices", params={"platform": "a\u0000b"}), 422, "unknown_platform")
    expect_error(trading.get(f"/public/notices/{uuid.uuid4()}"), 404, "not_found")
    expect_error(trading.get("/public/notices/x"), 422, "validation_error")


def test_public_status_filter(tender, set_times):
    client = tender.client

    def ids(status):
        return {n["id"] for n in client.get("/public/notices", params={"status": status, "limit": 100}).json()}

    nid = tender.notice["id"]
    assert nid in ids("open") and nid not in ids("closed") | ids("suspended")
    for lot in tender.lots:
        set_times(lot["id"], bid_deadline=timedelta(minutes=-1))
    assert nid in ids("closed") and nid not in ids("open")
    assert client.get(f"/public/notices/{nid}").json()["tender_status"] == "closed"
