"""GET /audit/events and /audit/events/{id}: supervisors only, county boundaries, filters, cursor."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tests.supervision.events import BASE_TIME, make_event

OUT_FIELDS = {
    "id", "event_id", "source", "delivery_seq", "occurred_at", "received_at", "actor", "actor_role",
    "organisation", "platform", "action", "object_type", "object_id", "project_id", "lot_id", "change", "digest",
    "client_ip", "user_agent", "device_fingerprint", "request_id",
}  # fmt: skip


@pytest.fixture
def ledger(ingest) -> dict[str, dict[str, Any]]:
    """Six events over three sources and three platforms (plus one without a platform)."""
    trading = [
        make_event("trading", 1, platform="jincheng", action="venue.created", object_id="v-1", actor="op-city"),
        make_event("trading", 2, platform="gaoping", action="venue.created", object_id="v-2", actor="op-gp"),
        make_event("trading", 3, platform="yangcheng", action="venue.created", object_id="v-3", actor="op-yc"),
        make_event("trading", 4, platform="gaoping", action="venue.updated", object_id="v-2", actor="op-gp"),
    ]
    portal = [make_event("portal", 1, platform="gaoping", action="user.login", object_type="user", object_id="u-9")]
    expert_pool = [make_event("expert_pool", 1, platform=None, action="specialty.created", object_type="specialty")]
    for batch in (trading, portal, expert_pool):
        response = ingest(batch)
        assert response.status_code == 200, response.text
    return {
        "city": trading[0], "gp_created": trading[1], "yc": trading[2], "gp_updated": trading[3],
        "gp_login": portal[0], "no_platform": expert_pool[0],
    }  # fmt: skip


def _ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [e["event_id"] for e in response.json()["events"]]


def _all_in_order(ledger: dict[str, dict[str, Any]], *names: str) -> list[str]:
    order = ["city", "gp_created", "yc", "gp_updated", "gp_login", "no_platform"]  # ingestion order
    return [ledger[n]["event_id"] for n in order if n in names]


# -- visibility -----------------------------------------------------------------------------------


def test_city_supervisor_lists_every_event_oldest_first(supervision, user, ledger):
    response = supervision.get("/audit/events", headers=user("supervisor"))
    assert _ids(response) == _all_in_order(ledger, *ledger)
    body = response.json()
    assert body["next_after"] is None
    ids = [e["id"] for e in body["events"]]
    assert ids == sorted(ids)
    first = body["events"][0]
    assert set(first) == OUT_FIELDS
    sent = ledger["city"]
    assert {k: first[k] for k in sent if k != "occurred_at"} == {k: v for k, v in sent.items() if k != "occurred_at"}
    assert datetime.fromisoformat(first["occurred_at"]) == datetime.fromisoformat(sent["occurred_at"])
    assert datetime.fromisoformat(first["received_at"]).tzinfo is not None


def test_county_supervisor_lists_only_its_platforms_events(supervision, user, ledger):
    gaoping = supervision.get("/audit/events", headers=user("supervisor", platform="gaoping"))
    assert _ids(gaoping) == _all_in_order(ledger, "gp_created", "gp_updated", "gp_login")
    assert {e["platform"] for e in gaoping.json()["events"]} == {"gaoping"}
    yangcheng = supervision.get("/audit/events", headers=user("supervisor", platform="yangcheng"))
    assert _ids(yangcheng) == [ledger["yc"]["event_id"]]
    assert _ids(supervision.get("/audit/events", headers=user("supervisor", platform="qinshui"))) == []


def test_county_supervisor_reads_own_event_and_gets_404_for_others(supervision, user, ledger, expect_error):
    headers = user("supervisor", platform="gaoping")
    own = supervision.get(f"/audit/events/{ledger['gp_login']['event_id']}", headers=headers)
    assert own.status_code == 200, own.text
    assert set(own.json()) == OUT_FIELDS
    assert own.json()["event_id"] == ledger["gp_login"]["event_id"]
    assert own.json()["change"] == ledger["gp_login"]["change"]
    for name in ("yc", "city", "no_platform"):
        expect_error(supervision.get(f"/audit/events/{ledger[name]['event_id']}", headers=headers), 404, "not_found")


def test_city_supervisor_reads_any_event(supervision, user, ledger):
    for event in ledger.values():
        response = supervision.get(f"/audit/events/{event['event_id']}", headers=user("supervisor"))
        assert response.status_code == 200, response.text
        assert response.json()["event_id"] == event["event_id"]
        assert response.json()["platform"] == event["platform"]


def test_unknown_and_malformed_event_ids(supervision, user, expect_error):
    expect_error(supervision.get(f"/audit/events/{uuid.uuid4()}", headers=user("supervisor")), 404, "not_found")
    expect_error(supervision.get("/audit/events/17", headers=user("supervisor")), 422, "validation_error")


@pytest.mark.parametrize("role", ["operator", "admin", "agency", "tenderee", "bidder", "expert"])
def test_only_supervisors_may_query(supervision, user, ledger, expect_error, role):
    headers = user(role)
    details = expect_error(supervision.get("/audit/events", headers=headers), 403, "forbidden_role")
    assert details == {"allowed": ["supervisor"]}
    path = f"/audit/events/{ledger['city']['event_id']}"
    expect_error(supervision.get(path, headers=headers), 403, "forbidden_role")


def test_service_tokens_may_not_query(supervision, service, ledger, expect_error):
    headers = service("audit:ingest:trading audit:read")
    expect_error(supervision.get("/audit/events", headers=headers), 403, "wrong_token_type")
    path = f"/audit/events/{ledger['city']['event_id']}"
    expect_error(supervision.get(path, headers=headers), 403, "wrong_token_type")


def test_querying_without_token_is_401(supervision, expect_error):
    expect_error(supervision.get("/audit/events"), 401, "unauthenticated")


# -- filters --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"source": "portal"}, ["gp_login"]),
        ({"source": "trading"}, ["city", "gp_created", "yc", "gp_updated"]),
        ({"action": "venue.created"}, ["city", "gp_created", "yc"]),
        ({"object_type": "specialty"}, ["no_platform"]),
        ({"object_type": "venue", "object_id": "v-2"}, ["gp_created", "gp_updated"]),
        ({"actor": "op-gp"}, ["gp_created", "gp_updated"]),
        ({"source": "trading", "action": "venue.updated"}, ["gp_updated"]),
        ({"source": "nobody"}, []),
    ],
)
def test_city_filters(supervision, user, ledger, params, expected):
    response = supervision.get("/audit/events", params=params, headers=user("supervisor"))
    assert _ids(response) == _all_in_order(ledger, *expected)


def test_filters_never_widen_a_county_view(supervision, user, ledger):
    headers = user("supervisor", platform="gaoping")
    created = supervision.get("/audit/events", params={"action": "venue.created"}, headers=headers)
    assert _ids(created) == [ledger["gp_created"]["event_id"]]
    yc = supervision.get("/audit/events", params={"actor": "op-yc"}, headers=headers)
    assert _ids(yc) == []


def test_since_is_inclusive_and_until_exclusive(supervision, user, ledger):
    # trading seq n occurred at BASE_TIME + n minutes; portal and expert_pool seq 1 at + 1 minute
    headers = user("supervisor")

    def window(**params: datetime) -> list[str]:
        return _ids(
            supervision.get("/audit/events", params={k: v.isoformat() for k, v in params.items()}, headers=headers)
        )

    at = {n: BASE_TIME + timedelta(minutes=n) for n in range(1, 5)}
    assert window(since=at[2]) == _all_in_order(ledger, "gp_created", "yc", "gp_updated")
    assert window(until=at[2]) == _all_in_order(ledger, "city", "gp_login", "no_platform")
    assert window(since=at[2], until=at[4]) == _all_in_order(ledger, "gp_created", "yc")
    assert window(since=at[4], until=at[4]) == []
    # the same instant written in another offset selects the same events
    east8 = at[3].astimezone(timezone(timedelta(hours=8)))
    assert window(since=east8) == window(since=at[3]) == _all_in_order(ledger, "yc", "gp_updated")


@pytest.mark.parametrize(
    "params", [{"since": "last tuesday"}, {"until": "2026-13-01"}, {"after": -1}, {"limit": 0}, {"limit": 1001}]
)
def test_bad_query_parameters_are_422(supervision, user, expect_error, params):
    expect_error(supervision.get("/audit/events", params=params, headers=user("supervisor")), 422, "validation_error")


# -- cursor ---------------------------------------------------------------------------------------


def test_cursor_pages_cover_everything_once_in_order(supervision, user, ledger):
    headers = user("supervisor")
    seen: list[str] = []
    after = 0
    pages = 0
    while True:
        response = supervision.get("/audit/events", params={"after": after, "limit": 2}, headers=headers)
        body = response.json()
        seen += _ids(response)
        pages += 1
        if body["next_after"] is None:
            break
        assert body["next_after"] == body["events"][-1]["id"]
        after = body["next_after"]
    assert seen == _all_in_order(ledger, *ledger)
    assert pages in (3, 4)  # three full pages, and possibly an empty one to learn there is no more


def test_cursor_is_stable_while_new_events_arrive(supervision, user, ledger, ingest):
    headers = user("supervisor", platform="gaoping")
    first = supervision.get("/audit/events", params={"limit": 2}, headers=headers).json()
    assert [e["event_id"] for e in first["events"]] == _all_in_order(ledger, "gp_created", "gp_updated")
    late = make_event("trading", 5, platform="gaoping", action="venue.closed")
    assert ingest([late]).status_code == 200

    again = supervision.get("/audit/events", params={"limit": 2}, headers=headers).json()
    assert again == first  # an earlier page does not shift
    rest = supervision.get("/audit/events", params={"after": first["next_after"], "limit": 2}, headers=headers).json()
    assert [e["event_id"] for e in rest["events"]] == [ledger["gp_login"]["event_id"], late["event_id"]]
    tail = supervision.get("/audit/events", params={"after": rest["next_after"], "limit": 2}, headers=headers).json()
    assert tail == {"events": [], "next_after": None}


def test_partial_page_has_no_next_cursor(supervision, user, ledger):
    body = supervision.get("/audit/events", params={"limit": 100}, headers=user("supervisor")).json()
    assert len(body["events"]) == len(ledger)
    assert body["next_after"] is None


def test_cursor_past_the_end_is_empty(supervision, user, ledger):
    response = supervision.get("/audit/events", params={"after": 2**62}, headers=user("supervisor"))
    assert response.status_code == 200, response.text
    assert response.json() == {"events": [], "next_after": None}


def test_out_of_range_cursor_is_refused_not_a_500(supervision, user, ledger, expect_error):
    response = supervision.get("/audit/events", params={"after": 10**19}, headers=user("supervisor"))
    expect_error(response, 422, "validation_error")
