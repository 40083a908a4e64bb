"""GET /audit/events.csv: BOM, column order, content, formula escaping, filters, streaming."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from services.supervision.trail import export, service
from services.supervision.trail.router import export_events
from services.supervision.trail.schemas import ExportQuery
from shared.auth import Principal
from tests.supervision.events import BASE_TIME

# Pinned here, not imported: the order is API, and a change to it must break this test.
EXPECTED_COLUMNS = [
    "id", "event_id", "occurred_at", "occurred_at_local", "received_at", "source", "delivery_seq", "platform",
    "project_id", "lot_id", "organisation", "actor", "actor_role", "action", "object_type", "object_id",
    "client_ip", "device_fingerprint", "user_agent", "request_id", "digest", "change", "inclusion_proof",
]  # fmt: skip

CITY = Principal(subject="s", typ="user", platform="jincheng", roles=frozenset({"supervisor"}))


def table(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    text = response.content.decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    assert header == EXPECTED_COLUMNS
    return [dict(zip(header, row, strict=True)) for row in reader]


def test_export_is_utf8_with_bom_and_a_fixed_header(supervision, user, store):
    store(platform="gaoping")
    response = supervision.get("/audit/events.csv", headers=user("supervisor"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="audit-events.csv"'
    assert response.content.startswith(b"\xef\xbb\xbf" + b"id,event_id,occurred_at,")
    assert b"\r\n" in response.content  # RFC 4180 line ends, as Excel writes them
    assert len(table(response)) == 1


def test_export_rows_hold_every_field(supervision, user, store):
    event = store(
        platform="gaoping", project_id="GP-1", lot_id="GP-1-L2", organisation="91140500MA0000000X", actor="张三",
        actor_role="agency", action="notice.published", object_type="notice", object_id="n-1",
        change={"title": "晋城市某项目招标公告", "lots": 2}, client_ip="10.0.0.9", device_fingerprint="fp-9",
        user_agent='Mozilla/5.0 "quoted", with comma', request_id="req-9", occurred_at=BASE_TIME,
    )  # fmt: skip
    [row] = table(supervision.get("/audit/events.csv", headers=user("supervisor")))
    assert row == {
        "id": str(event.id),
        "event_id": str(event.event_id),
        "occurred_at": "2026-11-01T09:00:00+00:00",
        "occurred_at_local": "2026-11-01T17:00:00+08:00",
        "received_at": row["received_at"],
        "source": "trading",
        "delivery_seq": str(event.delivery_seq),
        "platform": "gaoping",
        "project_id": "GP-1",
        "lot_id": "GP-1-L2",
        "organisation": "91140500MA0000000X",
        "actor": "张三",
        "actor_role": "agency",
        "action": "notice.published",
        "object_type": "notice",
        "object_id": "n-1",
        "client_ip": "10.0.0.9",
        "device_fingerprint": "fp-9",
        "user_agent": 'Mozilla/5.0 "quoted", with comma',
        "request_id": "req-9",
        "digest": event.digest,
        "change": '{"lots": 2, "title": "晋城市某项目招标公告"}',  # PostgreSQL's JSON text
        "inclusion_proof": f"/ledger/events/{event.event_id}/inclusion-proof",
    }
    assert row["received_at"].endswith("+00:00")
    assert json.loads(row["change"]) == event.change


def test_cells_that_look_like_formulas_are_made_text(supervision, user, store):
    store(
        actor="=HYPERLINK(\"http://evil\",\"x\")", organisation="+8613800000000", user_agent="-2+3",
        request_id="@SUM(A1)", device_fingerprint="\tx", client_ip="\r1", object_id="a=1", project_id="P-1",
        change={"note": "=1+1"},
    )  # fmt: skip
    [row] = table(supervision.get("/audit/events.csv", headers=user("supervisor")))
    assert row["actor"] == '\'=HYPERLINK("http://evil","x")'
    assert row["organisation"] == "'+8613800000000"
    assert row["user_agent"] == "'-2+3"
    assert row["request_id"] == "'@SUM(A1)"
    assert row["device_fingerprint"] == "'\tx"
    assert row["client_ip"] == "'\r1"
    assert row["object_id"] == "a=1"  # only a leading character makes a formula
    assert row["project_id"] == "P-1"
    assert row["change"] == '{"note": "=1+1"}'  # JSON starts with "{"


@pytest.mark.parametrize(
    ("value", "safe"),
    [("=1", "'=1"), ("+1", "'+1"), ("-1", "'-1"), ("@x", "'@x"), ("\t", "'\t"), ("\r", "'\r"), ("a-1", "a-1"),
     ("", ""), (None, ""), (-5, "'-5"), ("'=1", "'=1")],
)  # fmt: skip
def test_safe_cell(value, safe):
    assert export.safe_cell(value) == safe


def test_export_applies_the_filters_and_the_county_boundary(supervision, user, store):
    gp = [store(platform="gaoping", action="bid.submitted"), store(platform="gaoping", action="user.login")]
    store(platform="yangcheng", action="bid.submitted")
    store(platform=None, action="bid.submitted")

    def ids(params, headers) -> list[str]:
        return [r["id"] for r in table(supervision.get("/audit/events.csv", params=params, headers=headers))]

    county = user("supervisor", platform="gaoping")
    assert ids({}, county) == [str(e.id) for e in gp]
    assert ids({"platform": "yangcheng"}, county) == [str(e.id) for e in gp]
    assert ids({"action": "bid.submitted"}, county) == [str(gp[0].id)]
    assert len(ids({}, user("supervisor"))) == 4
    assert ids({"after": gp[0].id, "action": "user.login"}, user("supervisor")) == [str(gp[1].id)]


def test_an_empty_export_is_just_the_header(supervision, user):
    response = supervision.get("/audit/events.csv", params={"actor": "nobody"}, headers=user("supervisor"))
    assert table(response) == []


def test_a_large_export_is_streamed(supervision, user, store_many):
    store_many(2500, platform="qinshui")
    with supervision.stream("GET", "/audit/events.csv", headers=user("supervisor", platform="qinshui")) as response:
        assert response.status_code == 200
        assert "content-length" not in response.headers  # not buffered: sent as it is produced
        chunks = list(response.iter_raw())
    body = b"".join(chunks)
    assert body.count(b"\r\n") == 2501
    assert len(chunks) >= 4  # the header, then one chunk per batch of a thousand rows


def test_the_export_reads_a_batch_at_a_time(session_factory, store_many, monkeypatch):
    monkeypatch.setattr(export, "BATCH", 10)
    store_many(25, platform="qinshui")
    opened = 0

    def counting_factory():
        nonlocal opened
        opened += 1
        return session_factory()

    with session_factory() as session:
        found = service.up_to_now(session, service.search(session, CITY, ExportQuery(platform="qinshui")))
    chunks = export.csv_chunks(counting_factory, found)
    assert next(chunks).startswith(b"\xef\xbb\xbfid,")
    assert opened == 0  # the header needs no query
    assert next(chunks).count(b"\r\n") == 10
    assert opened == 1  # one batch read, not the whole export
    assert [c.count(b"\r\n") for c in chunks] == [10, 5]
    assert opened == 3


def test_the_export_is_the_set_stored_when_it_started(session_factory, store, monkeypatch):
    monkeypatch.setattr(export, "BATCH", 1)
    first = [store(), store()]
    with session_factory() as session:
        found = service.up_to_now(session, service.search(session, CITY, ExportQuery()))
    chunks = export.csv_chunks(session_factory, found)
    next(chunks), next(chunks)
    store()  # arrives during the download
    rows = list(csv.reader(io.StringIO(b"".join(chunks).decode())))
    assert [r[0] for r in rows] == [str(first[1].id)]


def test_the_documented_column_order_is_the_real_one():
    doc = export_events.__doc__ or ""
    listed = re.findall(r"[a-z_]+", doc[doc.index("Columns, in this order") :].split("A cell")[0])
    assert [c for c in listed if c in EXPECTED_COLUMNS] == EXPECTED_COLUMNS
    assert list(export.COLUMNS) == EXPECTED_COLUMNS
