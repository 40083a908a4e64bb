"""Venues: who may register and read them, county boundaries, validation, duplicates and audit."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import Connection, text

from shared.audit.outbox import change_digest


def _venue(**overrides: Any) -> dict[str, Any]:
    return {
        "name": f"开标大厅{uuid.uuid4().hex[:6]}",
        "kind": "opening_hall",
        "location": "晋城市泽州路1号三层",
        "capacity": 80,
        **overrides,
    }


def _venue_count(connection: Connection) -> int:
    return int(connection.execute(text("select count(*) from trading.venues")).scalar_one())


def _create(trading, user, platform: str, role: str = "operator", **overrides: Any) -> dict[str, Any]:
    response = trading.post("/venues", json=_venue(**overrides), headers=user(role, platform=platform))
    assert response.status_code == 201, response.text
    return dict(response.json())


# -- POST /venues ---------------------------------------------------------------------------------


def test_county_operator_registers_venue_of_own_platform_with_audit(trading, user, outbox, connection):
    body = _venue(kind="remote_evaluation_room", capacity=12)
    headers = {**user("operator", platform="gaoping", sub="op-gp-1", org="org-gp"), "X-Request-ID": "req-venue-1"}
    response = trading.post("/venues", json=body, headers=headers)

    assert response.status_code == 201, response.text
    venue = response.json()
    assert set(venue) == {"id", "platform", "name", "kind", "location", "capacity", "active", "created_at"}
    assert uuid.UUID(venue["id"])
    assert venue["platform"] == "gaoping"
    assert {k: venue[k] for k in body} == body
    assert venue["active"] is True
    assert datetime.fromisoformat(venue["created_at"]).tzinfo is not None
    stored = connection.execute(
        text("select platform, name, kind, capacity from trading.venues where id = :id"), {"id": venue["id"]}
    ).one()
    assert tuple(stored) == ("gaoping", body["name"], "remote_evaluation_room", 12)

    events = outbox()
    assert len(events) == 1
    event = events[0]
    assert event["action"] == "venue.created"
    assert event["object_type"] == "venue"
    assert event["object_id"] == venue["id"]
    assert event["platform"] == "gaoping"
    assert event["actor"] == "op-gp-1"
    assert event["actor_role"] == "operator"
    assert event["organisation"] == "org-gp"
    assert event["change"] == body
    assert event["digest"] == change_digest(body)
    assert event["request_id"] == "req-venue-1" == response.headers["x-request-id"]
    assert event["delivery_seq"] is None and event["delivered_at"] is None


def test_city_admin_registers_city_venue_and_request_id_is_generated(trading, user, outbox):
    response = trading.post("/venues", json=_venue(kind="evaluation_room"), headers=user("admin", sub="admin-1"))
    assert response.status_code == 201, response.text
    venue = response.json()
    assert venue["platform"] == "jincheng"
    [event] = outbox()
    assert (event["platform"], event["actor"], event["actor_role"]) == ("jincheng", "admin-1", "admin")
    assert event["object_id"] == venue["id"]
    assert event["request_id"] == response.headers["x-request-id"]
    assert len(event["request_id"]) == 32


@pytest.mark.parametrize("role", ["bidder", "tenderee", "agency", "supervisor", "expert"])
def test_non_staff_roles_cannot_register_venues(trading, user, outbox, connection, expect_error, role):
    response = trading.post("/venues", json=_venue(), headers=user(role, platform="gaoping"))
    details = expect_error(response, 403, "forbidden_role")
    assert set(details["allowed"]) == {"operator", "admin"}
    assert _venue_count(connection) == 0
    assert outbox() == []


def test_service_token_cannot_register_venues(trading, service, outbox, connection, expect_error):
    response = trading.post("/venues", json=_venue(), headers=service("trading:read trading:write"))
    details = expect_error(response, 403, "wrong_token_type")
    assert details == {"required": "user", "got": "service"}
    assert _venue_count(connection) == 0
    assert outbox() == []


def test_registering_without_token_is_401(trading, expect_error):
    expect_error(trading.post("/venues", json=_venue()), 401, "unauthenticated")


def test_platform_comes_from_the_token_not_the_body(trading, user, connection, expect_error):
    response = trading.post("/venues", json=_venue(platform="jincheng"), headers=user("operator", platform="gaoping"))
    details = expect_error(response, 422, "validation_error")
    assert any(d["loc"][-1] == "platform" and d["type"] == "extra_forbidden" for d in details)
    assert _venue_count(connection) == 0


def test_duplicate_name_on_same_platform_is_409_but_other_platform_may_reuse_it(
    trading, user, outbox, connection, expect_error
):
    body = _venue(name="第一开标室")
    assert trading.post("/venues", json=body, headers=user("operator", platform="gaoping")).status_code == 201
    again = trading.post("/venues", json={**body, "kind": "evaluation_room"}, headers=user("admin", platform="gaoping"))
    expect_error(again, 409, "venue_exists")
    assert [e["platform"] for e in outbox()] == ["gaoping"]

    elsewhere = trading.post("/venues", json=body, headers=user("operator", platform="yangcheng"))
    assert elsewhere.status_code == 201, elsewhere.text
    assert elsewhere.json()["platform"] == "yangcheng"
    assert _venue_count(connection) == 2
    assert [e["platform"] for e in outbox()] == ["gaoping", "yangcheng"]


@pytest.mark.parametrize(
    ("body", "field", "error_type"),
    [
        ({**_venue(), "colour": "red"}, "colour", "extra_forbidden"),
        ({k: v for k, v in _venue().items() if k != "name"}, "name", "missing"),
        ({k: v for k, v in _venue().items() if k != "kind"}, "kind", "missing"),
        ({k: v for k, v in _venue().items() if k != "capacity"}, "capacity", "missing"),
        (_venue(kind="ballroom"), "kind", "literal_error"),
        (_venue(capacity=0), "capacity", "greater_than"),
        (_venue(capacity=1001), "capacity", "less_than_equal"),
        (_venue(capacity="many"), "capacity", "int_parsing"),
        (_venue(name="厅"), "name", "string_too_short"),
        (_venue(location="x" * 201), "location", "string_too_long"),
    ],
)
def test_invalid_venue_is_422(trading, user, outbox, connection, expect_error, body, field, error_type):
    response = trading.post("/venues", json=body, headers=user("operator", platform="gaoping"))
    details = expect_error(response, 422, "validation_error")
    assert any(d["loc"][-1] == field and d["type"] == error_type for d in details), details
    assert _venue_count(connection) == 0
    assert outbox() == []


def test_venue_body_must_be_an_object(trading, user, expect_error):
    expect_error(trading.post("/venues", json=[_venue()], headers=user("operator")), 422, "validation_error")
    response = trading.post(
        "/venues", content=b"{not json", headers={**user("operator"), "Content-Type": "application/json"}
    )
    expect_error(response, 422, "validation_error")


def test_nul_byte_in_venue_name_is_refused_not_a_500(trading, user, connection, expect_error):
    response = trading.post("/venues", json=_venue(name="开标\x00大厅"), headers=user("operator", platform="gaoping"))
    expect_error(response, 422, "validation_error")
    assert _venue_count(connection) == 0


# -- GET /venues/{id} -----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["operator", "admin", "agency", "tenderee", "supervisor"])
def test_readers_of_the_same_county_get_the_venue(trading, user, outbox, role):
    created = _create(trading, user, "gaoping")
    response = trading.get(f"/venues/{created['id']}", headers=user(role, platform="gaoping"))
    assert response.status_code == 200, response.text
    assert response.json() == created
    assert len(outbox()) == 1  # reading writes no audit event


def test_city_principal_reads_a_county_venue(trading, user):
    created = _create(trading, user, "yangcheng")
    response = trading.get(f"/venues/{created['id']}", headers=user("supervisor"))
    assert response.status_code == 200, response.text
    assert response.json() == created


@pytest.mark.parametrize("owner", ["yangcheng", "jincheng"])
def test_county_principal_cannot_see_another_platforms_venue(trading, user, expect_error, owner):
    created = _create(trading, user, owner)
    response = trading.get(f"/venues/{created['id']}", headers=user("operator", platform="gaoping"))
    expect_error(response, 404, "not_found")
    # the refusal is indistinguishable from a venue that does not exist
    missing = trading.get(f"/venues/{uuid.uuid4()}", headers=user("operator", platform="gaoping"))
    expect_error(missing, 404, "not_found")
    assert response.json()["error"]["message"] == missing.json()["error"]["message"]


@pytest.mark.parametrize("role", ["bidder", "expert"])
def test_other_roles_cannot_read_venues(trading, user, expect_error, role):
    created = _create(trading, user, "gaoping")
    headers = user(role, platform="gaoping")
    expect_error(trading.get(f"/venues/{created['id']}", headers=headers), 403, "forbidden_role")
    expect_error(trading.get("/venues", headers=headers), 403, "forbidden_role")


def test_service_token_reads_venues_only_with_trading_read_scope(trading, user, service, expect_error):
    created = _create(trading, user, "gaoping")
    ok = trading.get(f"/venues/{created['id']}", headers=service("trading:read"))
    assert ok.status_code == 200, ok.text
    assert ok.json() == created
    listed = trading.get("/venues", headers=service("trading:read"))
    assert [v["id"] for v in listed.json()] == [created["id"]]
    for path in (f"/venues/{created['id']}", "/venues"):
        details = expect_error(trading.get(path, headers=service("experts:draw")), 403, "insufficient_scope")
        assert details == {"missing": ["trading:read"]}


def test_malformed_venue_id_is_422(trading, user, expect_error):
    expect_error(trading.get("/venues/not-a-uuid", headers=user("operator")), 422, "validation_error")


# -- GET /venues ----------------------------------------------------------------------------------


def test_listing_is_limited_to_own_county_and_city_sees_all(trading, user, outbox):
    gp_b = _create(trading, user, "gaoping", name="乙评标室", kind="evaluation_room")
    gp_a = _create(trading, user, "gaoping", name="甲开标厅")
    yc = _create(trading, user, "yangcheng", name="阳城开标厅")
    city = _create(trading, user, "jincheng", role="admin", name="市中心开标厅")

    gaoping = trading.get("/venues", headers=user("agency", platform="gaoping"))
    assert gaoping.status_code == 200, gaoping.text
    assert sorted(v["id"] for v in gaoping.json()) == sorted([gp_a["id"], gp_b["id"]])
    assert {v["platform"] for v in gaoping.json()} == {"gaoping"}

    yangcheng = trading.get("/venues", headers=user("tenderee", platform="yangcheng"))
    assert yangcheng.json() == [yc]
    assert trading.get("/venues", headers=user("operator", platform="qinshui")).json() == []

    everything = trading.get("/venues", headers=user("supervisor"))
    assert everything.status_code == 200
    listed = everything.json()
    assert sorted(v["id"] for v in listed) == sorted(v["id"] for v in (gp_a, gp_b, yc, city))
    assert [(v["platform"], v["name"]) for v in listed] == sorted((v["platform"], v["name"]) for v in listed)
    assert len(outbox()) == 4  # listing writes no audit event


def test_listing_pages_with_limit_and_offset(trading, user, expect_error):
    made = [_create(trading, user, "lingchuan", name=f"场地{i}") for i in range(3)]
    headers = user("operator", platform="lingchuan")
    pages = [trading.get("/venues", params={"limit": 2, "offset": off}, headers=headers).json() for off in (0, 2, 4)]
    assert [len(p) for p in pages] == [2, 1, 0]
    assert [v["name"] for v in pages[0] + pages[1]] == [v["name"] for v in made]
    for params in ({"limit": 0}, {"limit": 501}, {"offset": -1}, {"limit": "ten"}):
        expect_error(trading.get("/venues", params=params, headers=headers), 422, "validation_error")


def test_huge_offset_is_refused_not_a_500(trading, user, expect_error):
    response = trading.get("/venues", params={"offset": 10**19}, headers=user("operator"))
    expect_error(response, 422, "validation_error")
