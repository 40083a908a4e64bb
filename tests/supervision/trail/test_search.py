"""GET /audit/events and /audit/events/{event_id}: who may search, county boundaries, every filter,
the cursor, and bad input (always a 422 with the one error body, never a 500)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from services.supervision.ingest.models import StoredEvent
from tests.supervision.events import BASE_TIME, make_event

OUT_FIELDS = {
    "id", "event_id", "source", "delivery_seq", "occurred_at", "received_at", "actor", "actor_role",
    "organisation", "platform", "action", "object_type", "object_id", "project_id", "lot_id", "change", "digest",
    "client_ip", "user_agent", "device_fingerprint", "request_id", "links",
}  # fmt: skip


def at(minutes: float) -> datetime:
    return BASE_TIME + timedelta(minutes=minutes)


@pytest.fixture
def trail(store) -> dict[str, StoredEvent]:
    """Seven events, stored e1..e7 in this order, each filter value picking a different subset.

    e7 occurred first but arrived last (a late relay), so occurrence order and id order differ.
    """
    bid = {"object_type": "bid", "action": "bid.submitted"}
    return {
        "e1": store(platform="jincheng", project_id="P1", lot_id="P1-L1", organisation="ORG-A", actor="u-city",
                    **bid, object_id="b-1", occurred_at=at(1)),
        "e2": store(platform="gaoping", project_id="P2", lot_id="P2-L1", organisation="ORG-B", actor="u-gp",
                    **bid, object_id="b-2", occurred_at=at(2)),
        "e3": store(platform="gaoping", project_id="P2", lot_id="P2-L2", organisation="ORG-A", actor="u-gp",
                    action="bid.decrypted", object_type="bid", object_id="b-2", occurred_at=at(3)),
        "e4": store(platform="yangcheng", project_id="P3", lot_id="P3-L1", organisation="ORG-C", actor="u-yc",
                    action="lot.opened", object_type="lot", object_id="P3-L1", occurred_at=at(4)),
        "e5": store("portal", platform="gaoping", actor="u-gp", action="user.login", object_type="user",
                    object_id="u-gp", occurred_at=at(5)),
        "e6": store("expert_pool", platform=None, actor="op-1", action="specialty.updated",
                    object_type="specialty", object_id="s-1", occurred_at=at(6)),
        "e7": store("expert_pool", platform="jincheng", project_id="P1", lot_id="P1-L1", organisation="ORG-B",
                    actor="u-city", action="expert.scored", object_type="evaluation", object_id="ev-1",
                    occurred_at=at(0.5)),
    }  # fmt: skip


def names(response: Any, trail: dict[str, StoredEvent]) -> list[str]:
    assert response.status_code == 200, response.text
    by_id = {str(e.event_id): name for name, e in trail.items()}
    return [by_id[e["event_id"]] for e in response.json()["events"]]


# -- who may search -------------------------------------------------------------------------------


def test_city_supervisor_sees_every_event_in_id_order(supervision, user, trail):
    response = supervision.get("/audit/events", headers=user("supervisor"))
    assert names(response, trail) == ["e1", "e2", "e3", "e4", "e5", "e6", "e7"]
    body = response.json()
    assert body["next_after"] is None
    first = body["events"][0]
    assert set(first) == OUT_FIELDS
    e1 = trail["e1"]
    assert first["id"] == e1.id
    assert first["links"] == {"inclusion_proof": f"/ledger/events/{e1.event_id}/inclusion-proof"}
    assert datetime.fromisoformat(first["occurred_at"]) == at(1)
    assert first["occurred_at"].endswith("Z")  # stored and answered in UTC
    assert first["change"] == e1.change
    assert first["digest"] == e1.digest


def test_county_supervisor_sees_only_its_platform(supervision, user, trail):
    assert names(supervision.get("/audit/events", headers=user("supervisor", platform="gaoping")), trail) == [
        "e2", "e3", "e5",
    ]  # fmt: skip
    assert names(supervision.get("/audit/events", headers=user("supervisor", platform="yangcheng")), trail) == ["e4"]
    assert names(supervision.get("/audit/events", headers=user("supervisor", platform="qinshui")), trail) == []


@pytest.mark.parametrize("asked", ["jincheng", "yangcheng", "gaoping"])
def test_county_supervisor_cannot_widen_its_view_with_platform(supervision, user, trail, asked):
    headers = user("supervisor", platform="gaoping")
    response = supervision.get("/audit/events", params={"platform": asked}, headers=headers)
    assert names(response, trail) == ["e2", "e3", "e5"]


def test_filters_never_widen_a_county_view(supervision, user, trail):
    headers = user("supervisor", platform="gaoping")
    for params, expected in [
        ({"project_id": "P1"}, []),
        ({"organisation": "ORG-A"}, ["e3"]),
        ({"actor": "u-city"}, []),
        ({"source": "expert_pool"}, []),
        ({"action": "bid.submitted", "platform": "jincheng"}, ["e2"]),
        ({"since": at(0).isoformat()}, ["e2", "e3", "e5"]),
    ]:
        assert names(supervision.get("/audit/events", params=params, headers=headers), trail) == expected, params


@pytest.mark.parametrize("role", ["operator", "admin", "agency", "tenderee", "bidder", "expert"])
def test_only_supervisors_may_search(supervision, user, trail, expect_error, role):
    headers = user(role)
    paths = ["/audit/events", "/audit/events.csv", f"/audit/events/{trail['e1'].event_id}"]
    for path in paths:
        details = expect_error(supervision.get(path, headers=headers), 403, "forbidden_role")
        assert details == {"allowed": ["supervisor"]}


def test_an_admin_with_the_supervisor_role_may_search(supervision, user, trail):
    assert supervision.get("/audit/events", headers=user("admin", "supervisor")).status_code == 200


def test_service_tokens_may_not_search(supervision, service, trail, expect_error):
    headers = service("audit:ingest:trading audit:read")
    for path in ["/audit/events", "/audit/events.csv", f"/audit/events/{trail['e1'].event_id}"]:
        expect_error(supervision.get(path, headers=headers), 403, "wrong_token_type")


def test_searching_without_a_token_is_401(supervision, expect_error):
    expect_error(supervision.get("/audit/events"), 401, "unauthenticated")
    expect_error(supervision.get("/audit/events.csv"), 401, "unauthenticated")


# -- one event ------------------------------------------------------------------------------------


def test_county_supervisor_reads_its_event_and_gets_404_for_others(supervision, user, trail, expect_error):
    headers = user("supervisor", platform="gaoping")
    own = supervision.get(f"/audit/events/{trail['e5'].event_id}", headers=headers)
    assert own.status_code == 200, own.text
    assert set(own.json()) == OUT_FIELDS
    assert own.json()["event_id"] == str(trail["e5"].event_id)
    assert own.json()["links"]["inclusion_proof"] == f"/ledger/events/{trail['e5'].event_id}/inclusion-proof"
    for name in ("e1", "e4", "e6"):  # city, another county, no platform at all
        expect_error(supervision.get(f"/audit/events/{trail[name].event_id}", headers=headers), 404, "not_found")


def test_city_supervisor_reads_any_event(supervision, user, trail):
    for event in trail.values():
        response = supervision.get(f"/audit/events/{event.event_id}", headers=user("supervisor"))
        assert response.status_code == 200, response.text
        assert response.json()["id"] == event.id


def test_unknown_and_malformed_event_ids(supervision, user, expect_error):
    expect_error(supervision.get(f"/audit/events/{uuid.uuid4()}", headers=user("supervisor")), 404, "not_found")
    expect_error(supervision.get("/audit/events/17", headers=user("supervisor")), 422, "validation_error")


# -- filters --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"project_id": "P1"}, ["e1", "e7"]),
        ({"project_id": "P2"}, ["e2", "e3"]),
        ({"lot_id": "P2-L2"}, ["e3"]),
        ({"organisation": "ORG-A"}, ["e1", "e3"]),
        ({"organisation": "ORG-B"}, ["e2", "e7"]),
        ({"actor": "u-gp"}, ["e2", "e3", "e5"]),
        ({"action": "bid.submitted"}, ["e1", "e2"]),
        ({"platform": "gaoping"}, ["e2", "e3", "e5"]),
        ({"platform": "jincheng"}, ["e1", "e7"]),
        ({"source": "expert_pool"}, ["e6", "e7"]),
        ({"object_type": "bid", "object_id": "b-2"}, ["e2", "e3"]),
        ({"object_type": "lot", "object_id": "b-2"}, []),
        ({"since": at(3)}, ["e3", "e4", "e5", "e6"]),
        ({"until": at(2)}, ["e1", "e7"]),
        ({"since": at(2), "until": at(4)}, ["e2", "e3"]),
        ({"since": at(4), "until": at(4.001)}, ["e4"]),
        ({"actor": "nobody"}, []),
        # combinations
        ({"project_id": "P2", "action": "bid.decrypted"}, ["e3"]),
        ({"organisation": "ORG-A", "platform": "gaoping"}, ["e3"]),
        ({"actor": "u-gp", "source": "portal"}, ["e5"]),
        ({"platform": "jincheng", "since": at(1)}, ["e1"]),
        ({"action": "bid.submitted", "until": at(2)}, ["e1"]),
        ({"source": "trading", "object_type": "bid", "object_id": "b-2", "since": at(3)}, ["e3"]),
        ({"lot_id": "P1-L1", "organisation": "ORG-B", "source": "expert_pool", "until": at(1)}, ["e7"]),
        ({"project_id": "P1", "platform": "gaoping"}, []),
    ],
)
def test_city_filters(supervision, user, trail, params, expected):
    query = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in params.items()}
    assert names(supervision.get("/audit/events", params=query, headers=user("supervisor")), trail) == expected


def test_the_same_instant_in_another_offset_selects_the_same_events(supervision, user, trail):
    east8 = at(3).astimezone(timezone(timedelta(hours=8)))
    headers = user("supervisor")
    assert east8.isoformat().endswith("+08:00")
    in_utc = supervision.get("/audit/events", params={"since": at(3).isoformat()}, headers=headers)
    in_east8 = supervision.get("/audit/events", params={"since": east8.isoformat()}, headers=headers)
    assert names(in_east8, trail) == names(in_utc, trail) == ["e3", "e4", "e5", "e6"]


def test_time_windows_find_late_events_and_cross_days(supervision, user, store):
    """Events arrive out of occurrence order; a window must find every one, whatever day it fell on."""
    day = timedelta(days=1)
    late = store(occurred_at=BASE_TIME - 3 * day)  # stored first, occurred three days earlier
    rows = [store(occurred_at=BASE_TIME + n * day) for n in range(-2, 3)]
    later = store(occurred_at=BASE_TIME - 3 * day + timedelta(hours=1))  # arrived last
    headers = user("supervisor")

    def window(since: datetime | None = None, until: datetime | None = None) -> list[int]:
        params = {k: v.isoformat() for k, v in (("since", since), ("until", until)) if v is not None}
        response = supervision.get("/audit/events", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [e["id"] for e in response.json()["events"]]

    assert window(until=BASE_TIME - 2 * day) == [late.id, later.id]
    assert window(since=BASE_TIME - 3 * day, until=BASE_TIME - 3 * day + timedelta(minutes=30)) == [late.id]
    assert window(since=BASE_TIME - 3 * day + timedelta(minutes=30), until=BASE_TIME - day) == [
        rows[0].id, later.id,
    ]  # fmt: skip
    assert window(since=BASE_TIME) == [r.id for r in rows[2:]]
    assert window(since=BASE_TIME - day, until=BASE_TIME + day) == [rows[1].id, rows[2].id]
    assert window(since=BASE_TIME + 10 * day) == []
    assert window(until=BASE_TIME - 10 * day) == []
    assert window(since=BASE_TIME - 100 * day, until=BASE_TIME + 100 * day) == [
        late.id, *(r.id for r in rows), later.id,
    ]  # fmt: skip


def test_time_windows_do_not_depend_on_the_sessions_time_zone(supervision, user, store, connection):
    # New York leaves daylight saving time on 2026-11-01: stepping "1 day" there is 25 hours once,
    # which would miss whole UTC days of the index.
    connection.exec_driver_sql("set local time zone 'America/New_York'")
    rows = [store(occurred_at=BASE_TIME + timedelta(days=n, hours=12)) for n in range(-3, 4)]
    since, until = BASE_TIME - timedelta(days=3), BASE_TIME + timedelta(days=3, hours=13)
    response = supervision.get(
        "/audit/events", params={"since": since.isoformat(), "until": until.isoformat()}, headers=user("supervisor")
    )
    assert response.status_code == 200, response.text
    assert [e["id"] for e in response.json()["events"]] == [r.id for r in rows]


# -- cursor ---------------------------------------------------------------------------------------


def test_cursor_pages_cover_everything_once_in_order(supervision, user, trail):
    headers = user("supervisor")
    seen: list[int] = []
    after = 0
    pages = 0
    while True:
        body = supervision.get("/audit/events", params={"after": after, "limit": 2}, headers=headers).json()
        seen += [e["id"] for e in body["events"]]
        pages += 1
        if body["next_after"] is None:
            break
        assert body["next_after"] == body["events"][-1]["id"]
        after = body["next_after"]
    assert seen == sorted(e.id for e in trail.values())
    assert pages == 4  # 2 + 2 + 2 + 1: the last page says itself that it is the last


def test_a_full_last_page_has_no_next_cursor(supervision, user, trail):
    body = supervision.get("/audit/events", params={"limit": 7}, headers=user("supervisor")).json()
    assert len(body["events"]) == 7
    assert body["next_after"] is None
    body = supervision.get("/audit/events", params={"limit": 6}, headers=user("supervisor")).json()
    assert body["next_after"] == body["events"][-1]["id"]


def test_cursor_is_stable_while_new_events_arrive(supervision, user, trail, ingest):
    """Pages neither overlap nor skip when events are ingested between them, even events that
    occurred before everything already read."""
    headers = user("supervisor", platform="gaoping")
    params = {"limit": 2, "since": at(0).isoformat()}
    first = supervision.get("/audit/events", params=params, headers=headers).json()
    assert [e["id"] for e in first["events"]] == [trail["e2"].id, trail["e3"].id]

    # through the real ingestion endpoint; the trail's trading events took delivery_seq 1 to 4
    early = make_event("trading", 5, platform="gaoping", occurred_at=at(0.25).isoformat())
    other = make_event("trading", 6, platform="yangcheng", occurred_at=at(9).isoformat())
    newest = make_event("trading", 7, platform="gaoping", occurred_at=at(9).isoformat())
    assert ingest([early, other, newest]).status_code == 200

    again = supervision.get("/audit/events", params=params, headers=headers).json()
    assert again == first  # an earlier page does not shift
    rest = supervision.get("/audit/events", params={**params, "after": first["next_after"]}, headers=headers).json()
    assert [e["event_id"] for e in rest["events"]] == [str(trail["e5"].event_id), early["event_id"]]
    tail = supervision.get("/audit/events", params={**params, "after": rest["next_after"]}, headers=headers).json()
    assert [e["event_id"] for e in tail["events"]] == [newest["event_id"]]
    assert tail["next_after"] is None


def test_cursor_past_the_end_is_empty(supervision, user, trail):
    response = supervision.get("/audit/events", params={"after": 2**62}, headers=user("supervisor"))
    assert response.status_code == 200, response.text
    assert response.json() == {"events": [], "next_after": None}


def test_pages_of_a_thousand(supervision, user, store_many):
    store_many(1500, platform="lingchuan")
    headers = user("supervisor", platform="lingchuan")
    first = supervision.get("/audit/events", params={"limit": 1000}, headers=headers).json()
    second = supervision.get("/audit/events", params={"limit": 1000, "after": first["next_after"]}, headers=headers)
    assert len(first["events"]) == 1000
    assert len(second.json()["events"]) == 500
    assert second.json()["next_after"] is None


# -- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "last tuesday"}, "since"),
        ({"until": "2026-13-01T00:00:00Z"}, "until"),
        ({"since": "2026-11-01T09:00:00"}, "since"),  # no time zone
        ({"since": "2026-11-01"}, "since"),
        ({"since": "1700000000"}, "since"),  # Unix time: the API speaks ISO 8601 only
        ({"since": "0001-01-01T00:00:00+14:00"}, "since"),  # before year 1 in UTC
        ({"since": "2026-11-01T10:00:00Z", "until": "2026-11-01T10:00:00Z"}, "until"),
        ({"since": "2026-11-01T10:00:00Z", "until": "2026-11-01T17:59:59+08:00"}, "until"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"after": -1}, "after"),
        ({"after": "abc"}, "after"),
        ({"after": 2**63}, "after"),
        ({"after": 10**30}, "after"),
        ({"platform": "atlantis"}, "platform"),
        ({"actor": ""}, "actor"),
        ({"project_id": "x" * 65}, "project_id"),
        ({"colour": "red"}, "colour"),  # unknown parameters are refused, not ignored
    ],
)
def test_bad_query_parameters_are_422(supervision, user, expect_error, params, field):
    for path in ("/audit/events", "/audit/events.csv"):
        details = expect_error(
            supervision.get(path, params=params, headers=user("supervisor")), 422, "validation_error"
        )
        assert ["query", field] in [d["loc"] for d in details], details


@pytest.mark.parametrize("params", [{"object_type": "bid"}, {"object_id": "b-1"}])
def test_object_type_and_id_go_together(supervision, user, expect_error, params):
    details = expect_error(supervision.get("/audit/events", params=params, headers=user("supervisor")), 422,
                           "validation_error")  # fmt: skip
    assert "object_type and object_id go together" in details[0]["msg"]


def test_nul_characters_are_refused(supervision, user, expect_error):
    response = supervision.get("/audit/events", params={"actor": "a\x00b"}, headers=user("supervisor"))
    expect_error(response, 422, "validation_error")


def test_the_latest_possible_cursor_and_dates_are_fine(supervision, user, trail):
    params = {"after": 2**63 - 1, "since": "0001-01-01T00:00:00Z", "until": "9999-12-31T23:59:59Z"}
    response = supervision.get("/audit/events", params=params, headers=user("supervisor"))
    assert response.status_code == 200, response.text
    assert response.json() == {"events": [], "next_after": None}


def test_trail_queries_are_planned_for_their_values(supervision, user, trail, connection):
    # psycopg prepares repeated statements; a generic plan ignores how skewed the values are.
    supervision.get("/audit/events", params={"action": "bid.submitted"}, headers=user("supervisor"))
    assert connection.exec_driver_sql("show plan_cache_mode").scalar() == "force_custom_plan"


def test_time_windows_on_an_empty_ledger(supervision, user):
    for params in ({"since": at(0).isoformat()}, {"until": at(0).isoformat()}):
        response = supervision.get("/audit/events", params=params, headers=user("supervisor"))
        assert response.json() == {"events": [], "next_after": None}


def test_the_trail_is_documented_for_its_users(supervision):
    paths = supervision.get("/openapi.json").json()["paths"]
    for path in (
        "/audit/events",
        "/audit/events.csv",
        "/audit/events/{event_id}",
        "/audit/projects/{project_id}/timeline",
    ):
        assert paths[path]["get"]["description"], path
    assert "text/csv" in paths["/audit/events.csv"]["get"]["responses"]["200"]["content"]
    assert "/ingest/events" in paths and "get" not in paths["/ingest/events"]
