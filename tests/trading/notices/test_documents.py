"""Tender documents: streamed uploads with a cap, downloads by any bidder without a gate, recorded
per organisation, and the record kept secret until the bid deadline."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta

import anyio
import httpx
from sqlalchemy import text

from tests.trading.notices.conftest import AGENCY, MAX_DOCUMENT_BYTES, PDF, upload


def stored_files(storage_dir):
    return [p for p in storage_dir.rglob("*") if p.is_file()]


def test_bidder_downloads_without_any_gate_and_it_is_recorded(tender, connection, outbox):
    response = tender.download("a")
    assert response.content == PDF
    assert response.headers["x-content-sha256"] == hashlib.sha256(PDF).hexdigest()
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-length"] == str(len(PDF))
    assert "filename*=UTF-8''%E6%8B%9B%E6%A0%87%E6%96%87%E4%BB%B6.pdf" in response.headers["content-disposition"]
    rows = connection.execute(
        text(
            "select lot_id::text, org, downloaded_by, client_ip, downloaded_at from trading.document_downloads "
            "where document_id = :d order by lot_id"
        ),
        {"d": tender.document["id"]},
    ).all()
    assert sorted(r[0] for r in rows) == sorted(lot["id"] for lot in tender.lots)  # the notice covers both lots
    assert {(r.org, r.downloaded_by, r.client_ip) for r in rows} == {(tender.bidders["a"], "bidder-a", "testclient")}
    event = outbox()[-1]
    assert event["action"] == "document.downloaded" and event["organisation"] == tender.bidders["a"]
    assert sorted(event["change"]["lot_ids"]) == sorted(lot["id"] for lot in tender.lots)


def test_bidders_of_every_platform_may_download(tender):
    # No regional barrier (招标投标法 第六条): a Gaoping bidder takes a city tender's documents.
    response = tender.client.get(
        f"/documents/{tender.document['id']}/content", headers=tender.bidder("county", platform="gaoping")
    )
    assert response.status_code == 200 and response.content == PDF


def test_download_roles(tender, service, expect_error):
    path = f"/documents/{tender.document['id']}/content"
    for role in ("agency", "tenderee", "operator", "supervisor", "expert", "admin"):
        expect_error(tender.client.get(path, headers=tender.headers(role, org=AGENCY)), 403, "forbidden_role")
    expect_error(tender.client.get(path, headers=service("trading:read")), 403, "wrong_token_type")
    expect_error(tender.client.get(path, headers=tender.headers("bidder")), 403, "no_organisation")
    expect_error(tender.client.get(path), 401, "unauthenticated")


def test_only_published_documents_on_offer_are_handed_out(trading, user, draft_notice, tender, set_times, expect_error):
    _, _, draft = draft_notice()
    draft_doc = upload(trading, f"/notices/{draft['id']}/documents", user("agency", org=AGENCY)).json()
    bidder = tender.bidder()
    expect_error(trading.get(f"/documents/{draft_doc['id']}/content", headers=bidder), 404, "not_found")
    expect_error(trading.get(f"/documents/{uuid.uuid4()}/content", headers=bidder), 404, "not_found")
    expect_error(trading.get("/documents/nope/content", headers=bidder), 422, "validation_error")
    path = f"/documents/{tender.document['id']}/content"
    # Lot 1 no longer on offer: a download records lot 2 only.
    set_times(tender.lots[0]["id"], bid_deadline=timedelta(days=10), documents_until=timedelta(minutes=-1))
    assert trading.get(path, headers=bidder).status_code == 200
    # Neither lot on offer (not yet, and over): refused.
    set_times(
        tender.lots[1]["id"],
        bid_deadline=timedelta(days=30),
        documents_from=timedelta(days=1),
        documents_until=timedelta(days=8),
    )
    expect_error(trading.get(path, headers=bidder), 409, "documents_not_on_offer")


def test_upload_cap_refuses_and_leaves_nothing(trading, user, draft_notice, storage_dir, expect_error):
    _, _, notice = draft_notice()
    path = f"/notices/{notice['id']}/documents"
    organiser = user("agency", org=AGENCY)
    huge = b"x" * (4 * MAX_DOCUMENT_BYTES)
    # Announced too large: refused before a byte is read.
    details = expect_error(upload(trading, path, organiser, content=huge), 413, "payload_too_large")
    assert details == {"max_bytes": MAX_DOCUMENT_BYTES}

    # Sent chunked (no Content-Length): the store stops it at the cap.
    def chunks():
        for _ in range(64):
            yield b"y" * (MAX_DOCUMENT_BYTES // 16)

    expect_error(upload(trading, path, organiser, content=chunks()), 413, "payload_too_large")
    assert list((storage_dir / "tmp").iterdir()) == []
    assert stored_files(storage_dir) == []
    exact = upload(trading, path, organiser, content=b"z" * MAX_DOCUMENT_BYTES)
    assert exact.status_code == 201 and exact.json()["size"] == MAX_DOCUMENT_BYTES
    assert trading.get(f"/notices/{notice['id']}", headers=organiser).json()["documents"][0]["id"] == exact.json()["id"]


def test_upload_is_streamed_and_stops_reading_at_the_cap(trading, user, draft_notice, storage_dir):
    """Over a transport that streams the body (unlike TestClient, which buffers it), the endpoint
    stops pulling chunks soon after the cap: the body is never read whole."""
    _, _, notice = draft_notice()
    pulled = []
    chunk = b"s" * (16 * 1024)

    async def body():
        for n in range(1000):  # 16 MB offered
            pulled.append(n)
            yield chunk

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=trading.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://trading") as client:
            return await client.post(
                f"/notices/{notice['id']}/documents",
                params={"filename": "big.bin"},
                content=body(),
                headers=user("agency", org=AGENCY),
            )

    response = anyio.run(send)
    assert response.status_code == 413, response.text
    assert len(pulled) < 2 * MAX_DOCUMENT_BYTES // len(chunk)
    assert list((storage_dir / "tmp").iterdir()) == []


def test_bad_uploads(trading, user, draft_notice, expect_error):
    _, _, notice = draft_notice()
    path = f"/notices/{notice['id']}/documents"
    organiser = user("agency", org=AGENCY)
    for name in ("../../etc/passwd", "a/b.pdf", "a\\b", "..", " ", "a\u0001b", "x" * 256):
        response = upload(trading, path, organiser, filename=name)
        assert response.status_code == 422, (name, response.text)
        assert response.json()["error"]["code"] in {"invalid_filename", "validation_error"}
    expect_error(trading.post(path, content=PDF, headers=organiser), 422, "validation_error")  # no filename
    expect_error(
        trading.post(path, params={"filename": "a\u0000.pdf"}, content=PDF, headers=organiser), 422, "invalid_filename"
    )
    expect_error(upload(trading, path, organiser, content=b""), 422, "empty_document")
    bad_type = trading.post(
        path, params={"filename": "a.pdf"}, content=PDF, headers={**organiser, "Content-Type": "not a type"}
    )
    expect_error(bad_type, 422, "invalid_content_type")
    untyped = trading.post(path, params={"filename": "说明.txt"}, content=PDF, headers=organiser)
    assert untyped.status_code == 201 and untyped.json()["content_type"] == "application/octet-stream"
    expect_error(upload(trading, f"/notices/{uuid.uuid4()}/documents", organiser), 404, "not_found")


def test_download_record_is_secret_until_the_deadline(tender, set_times, expect_error, service):
    tender.download("a")
    tender.download("b")
    lot = tender.lots[0]["id"]
    path = f"/lots/{lot}/downloads"
    for headers in (tender.headers("operator"), tender.headers("supervisor")):
        details = expect_error(tender.client.get(path, headers=headers), 403, "secret_until_deadline")
        assert set(details) == {"bid_deadline", "basis"}
    for role in ("agency", "tenderee", "bidder", "admin", "expert"):
        expect_error(tender.client.get(path, headers=tender.headers(role, org=AGENCY)), 403, "forbidden_role")
    expect_error(tender.client.get(path, headers=service("trading:read")), 403, "wrong_token_type")
    expect_error(tender.client.get(path, headers=tender.headers("operator", platform="gaoping")), 404, "not_found")

    set_times(lot, bid_deadline=timedelta(seconds=-1))
    listed = tender.client.get(path, headers=tender.headers("supervisor")).json()
    assert {d["org"] for d in listed} == set(tender.bidders.values()) and len(listed) == 2
    assert {d["downloaded_by"] for d in listed} == {"bidder-a", "bidder-b"}
    page = tender.client.get(path, params={"limit": 1}, headers=tender.headers("operator")).json()
    rest = tender.client.get(path, params={"after": page[0]["id"]}, headers=tender.headers("operator")).json()
    assert [d["id"] for d in page + rest] == [d["id"] for d in listed]
    expect_error(
        tender.client.get(path, params={"after": 2**63}, headers=tender.headers("operator")), 422, "validation_error"
    )
    expect_error(
        tender.client.get(path, params={"limit": 0}, headers=tender.headers("operator")), 422, "validation_error"
    )
    # The other lot's deadline has not passed: still secret.
    expect_error(
        tender.client.get(f"/lots/{tender.lots[1]['id']}/downloads", headers=tender.headers("operator")),
        403,
        "secret_until_deadline",
    )
    expect_error(
        tender.client.get(f"/lots/{uuid.uuid4()}/downloads", headers=tender.headers("operator")), 404, "not_found"
    )


def test_client_going_away_mid_upload_is_no_server_error(trading, user, draft_notice, storage_dir):
    _, _, notice = draft_notice()
    headers = [(k.lower().encode(), v.encode()) for k, v in user("agency", org=AGENCY).items()]
    messages = iter([{"type": "http.request", "body": b"partial", "more_body": True}, {"type": "http.disconnect"}])
    sent: list[dict] = []

    async def receive():
        return next(messages)

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": f"/notices/{notice['id']}/documents",
        "raw_path": f"/notices/{notice['id']}/documents".encode(),
        "query_string": b"filename=a.pdf",
        "headers": [*headers, (b"content-type", b"application/pdf")],
        "client": ("192.0.2.1", 50000),
        "server": ("trading", 80),
    }
    anyio.run(trading.app, scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 400
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert b'"upload_incomplete"' in body
    assert list((storage_dir / "tmp").iterdir()) == []
    assert stored_files(storage_dir) == []
