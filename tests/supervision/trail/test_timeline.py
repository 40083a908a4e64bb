"""GET /audit/projects/{project_id}/timeline: occurrence order, both clocks, county boundaries, cursor."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.supervision.events import BASE_TIME


def path(project_id: str) -> str:
    return f"/audit/projects/{project_id}/timeline"


@pytest.fixture
def project(store):
    """Project GP-1 on Gaoping: four events stored out of occurrence order, one sharing a time."""
    at = BASE_TIME  # 2026-11-01 09:00 UTC, 17:00 in Shanghai
    return [
        store(platform="gaoping", project_id="GP-1", action="notice.published", occurred_at=at + timedelta(hours=2),
              actor="agent-1", actor_role="agency", organisation="ORG-AG", client_ip="10.1.1.1",
              device_fingerprint="fp-1", user_agent="Firefox", request_id="req-a"),
        store(platform="gaoping", project_id="GP-1", action="project.registered", occurred_at=at,
              actor="owner-1", actor_role="tenderee", organisation="ORG-OW"),
        store(platform="gaoping", project_id="GP-1", action="bid.submitted", occurred_at=at + timedelta(hours=16),
              lot_id="GP-1-L1", object_type="bid", object_id="b-9"),
        store(platform="gaoping", project_id="GP-1", action="bid.submitted", occurred_at=at + timedelta(hours=2),
              object_type="bid", object_id="b-8"),
    ]  # fmt: skip


def test_entries_come_in_occurrence_order_then_id(supervision, user, project):
    response = supervision.get(path("GP-1"), headers=user("supervisor"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["project_id"] == "GP-1"
    assert [e["id"] for e in body["entries"]] == [project[i].id for i in (1, 0, 3, 2)]
    assert body["next_after"] is None


def test_an_entry_says_who_did_what_when_and_from_where(supervision, user, project):
    entries = supervision.get(path("GP-1"), headers=user("supervisor")).json()["entries"]
    published = entries[1]
    event = project[0]
    assert published["event_id"] == str(event.event_id)
    assert published["who"] == {"actor": "agent-1", "role": "agency", "organisation": "ORG-AG"}
    assert published["what"] == {
        "action": "notice.published", "object_type": "venue", "object_id": event.object_id, "lot_id": None,
    }  # fmt: skip
    assert published["where"] == {"client_ip": "10.1.1.1", "device_fingerprint": "fp-1", "user_agent": "Firefox"}
    assert published["request_id"] == "req-a"
    assert published["source"] == "trading"
    assert published["platform"] == "gaoping"
    assert published["links"] == {
        "inclusion_proof": f"/ledger/events/{event.event_id}/inclusion-proof",
        "event": f"/audit/events/{event.event_id}",
    }


def test_times_are_given_in_utc_and_in_shanghai_time(supervision, user, project):
    entries = supervision.get(path("GP-1"), headers=user("supervisor")).json()["entries"]
    registered, submitted = entries[0]["when"], entries[3]["when"]
    assert registered == {"occurred_at": "2026-11-01T09:00:00Z", "occurred_at_local": "2026-11-01T17:00:00+08:00"}
    # 01:00 UTC is 09:00 in Shanghai; 17:00 UTC would already be the next day there
    assert submitted == {"occurred_at": "2026-11-02T01:00:00Z", "occurred_at_local": "2026-11-02T09:00:00+08:00"}
    assert datetime.fromisoformat(registered["occurred_at"]) == datetime.fromisoformat(registered["occurred_at_local"])


def test_county_supervisor_sees_its_own_projects_timeline(supervision, user, project):
    response = supervision.get(path("GP-1"), headers=user("supervisor", platform="gaoping"))
    assert response.status_code == 200, response.text
    assert len(response.json()["entries"]) == 4


@pytest.mark.parametrize("county", ["yangcheng", "qinshui"])
def test_another_countys_project_is_404(supervision, user, project, expect_error, county):
    expect_error(supervision.get(path("GP-1"), headers=user("supervisor", platform=county)), 404, "not_found")


def test_a_county_sees_only_its_platforms_part_of_a_project(supervision, user, project, store):
    stray = store(platform="yangcheng", project_id="GP-1", occurred_at=BASE_TIME)
    gaoping = supervision.get(path("GP-1"), headers=user("supervisor", platform="gaoping")).json()
    assert stray.id not in [e["id"] for e in gaoping["entries"]]
    city = supervision.get(path("GP-1"), headers=user("supervisor")).json()
    assert stray.id in [e["id"] for e in city["entries"]]


def test_unknown_project_is_404(supervision, user, project, expect_error):
    expect_error(supervision.get(path("NOPE"), headers=user("supervisor")), 404, "not_found")


def test_pages_follow_the_timeline(supervision, user, project):
    headers = user("supervisor", platform="gaoping")
    first = supervision.get(path("GP-1"), params={"limit": 2}, headers=headers).json()
    assert [e["id"] for e in first["entries"]] == [project[1].id, project[0].id]
    assert first["next_after"] == project[0].id
    second = supervision.get(path("GP-1"), params={"limit": 2, "after": first["next_after"]}, headers=headers).json()
    assert [e["id"] for e in second["entries"]] == [project[3].id, project[2].id]
    assert second["next_after"] is None


def test_a_cursor_from_elsewhere_is_refused(supervision, user, project, store, expect_error):
    elsewhere = store(platform="gaoping", project_id="GP-2")
    other_county = store(platform="yangcheng", project_id="GP-1")
    headers = user("supervisor", platform="gaoping")
    for after in (elsewhere.id, other_county.id, 2**62):
        response = supervision.get(path("GP-1"), params={"after": after}, headers=headers)
        details = expect_error(response, 422, "validation_error")
        assert details == [
            {"loc": ["query", "after"], "type": "invalid_cursor", "msg": "not a cursor of this timeline"}
        ]


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 1001}, {"after": -1}, {"after": "x"}, {"after": 2**63}, {"since": "x"}]
)
def test_bad_parameters_are_422(supervision, user, project, expect_error, params):
    expect_error(supervision.get(path("GP-1"), params=params, headers=user("supervisor")), 422, "validation_error")


def test_overlong_project_id_is_422(supervision, user, expect_error):
    expect_error(supervision.get(path("x" * 65), headers=user("supervisor")), 422, "validation_error")


@pytest.mark.parametrize("role", ["operator", "admin", "bidder"])
def test_only_supervisors_read_timelines(supervision, user, project, expect_error, role):
    expect_error(supervision.get(path("GP-1"), headers=user(role)), 403, "forbidden_role")


def test_service_tokens_read_no_timelines(supervision, service, project, expect_error):
    expect_error(supervision.get(path("GP-1"), headers=service("audit:read")), 403, "wrong_token_type")
