"""Supervisors' records: create, read, list, publish, revoke; roles, counties, validation, audit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import text

from shared.audit.outbox import change_digest
from tests.supervision.credit.samples import EXPERT, ORG, OTHER_ORG, org_code, record_body

RECORD_FIELDS = {
    "id", "platform", "subject_kind", "subject_id", "subject_name", "law", "act", "legal_basis", "decision",
    "decision_number", "department", "decided_on", "ban_start", "ban_end", "published", "published_at", "revoked",
    "revoked_at", "revoke_reason", "created_by", "created_at",
}  # fmt: skip


def _assert_event(event: dict[str, Any], action: str, record: dict[str, Any], change: dict[str, Any]) -> None:
    assert event["action"] == action
    assert event["object_type"] == "credit_record"
    assert event["object_id"] == str(record["id"])
    assert event["platform"] == record["platform"]
    assert event["change"] == change
    assert event["digest"] == change_digest(change)


# -- POST /credit/records -------------------------------------------------------------------------


def test_county_supervisor_records_a_decision_for_own_county_with_audit(supervision, user, outbox, connection):
    body = record_body(subject_id=ORG.lower(), act="  提供虚假材料谋取中标  ")
    headers = {**user("supervisor", platform="gaoping", sub="sup-gp-1"), "X-Request-ID": "req-credit-1"}
    response = supervision.post("/credit/records", json=body, headers=headers)

    assert response.status_code == 201, response.text
    record = response.json()
    assert set(record) == RECORD_FIELDS
    assert record["platform"] == "gaoping"
    assert record["subject_id"] == ORG  # normalised to upper case
    assert record["act"] == "提供虚假材料谋取中标"  # surrounding blanks dropped
    assert (record["ban_start"], record["ban_end"]) == ("2026-03-01", "2027-02-28")
    assert (record["published"], record["published_at"]) == (False, None)
    assert (record["revoked"], record["revoked_at"], record["revoke_reason"]) == (False, None, None)
    assert record["created_by"] == "sup-gp-1"
    assert datetime.fromisoformat(record["created_at"]).tzinfo is not None
    stored = connection.execute(
        text("select platform, subject_id, ban_start, ban_end from supervision.credit_records where id = :id"),
        {"id": record["id"]},
    ).one()
    assert tuple(str(v) for v in stored) == ("gaoping", ORG, "2026-03-01", "2027-02-28")

    [event] = outbox()
    expected_change = {**body, "subject_id": ORG, "act": "提供虚假材料谋取中标"}
    _assert_event(event, "credit_record.created", record, expected_change)
    assert (event["actor"], event["actor_role"], event["request_id"]) == ("sup-gp-1", "supervisor", "req-credit-1")


def test_city_supervisor_records_against_an_expert_without_ban(supervision, user, outbox):
    body = record_body(
        subject_kind="expert",
        subject_id=EXPERT.upper(),
        subject_name="张某",
        law="bidding",
        legal_basis="《招标投标法实施条例》第七十一条",
        ban_start=None,
        ban_end=None,
    )
    response = supervision.post("/credit/records", json=body, headers=user("supervisor"))
    assert response.status_code == 201, response.text
    record = response.json()
    assert (record["platform"], record["subject_kind"], record["subject_id"]) == ("jincheng", "expert", EXPERT)
    assert (record["ban_start"], record["ban_end"]) == (None, None)
    [event] = outbox()
    _assert_event(event, "credit_record.created", record, {**body, "subject_id": EXPERT})


@pytest.mark.parametrize(
    ("ban_start", "ban_end"),
    [
        ("2026-03-01", "2026-08-31"),  # six months
        ("2026-03-01", "2031-02-28"),  # five years
        ("2026-03-01", None),  # no end: 取消资格
        ("2026-03-01", "2026-03-01"),  # a single day
    ],
)
def test_bidding_law_records_may_have_other_ban_periods(create_record, ban_start, ban_end):
    record = create_record(law="bidding", ban_start=ban_start, ban_end=ban_end)
    assert (record["ban_start"], record["ban_end"]) == (ban_start, ban_end)


@pytest.mark.parametrize(
    ("ban_end", "what"),
    [("2027-02-28", "exactly one year"), ("2029-02-28", "exactly three years"), ("2028-06-30", "in between")],
)
def test_government_procurement_ban_of_one_to_three_years_is_accepted(create_record, ban_end, what):
    assert create_record(ban_start="2026-03-01", ban_end=ban_end)["ban_end"] == ban_end, what


@pytest.mark.parametrize(
    ("ban_end", "what"),
    [("2027-02-27", "364 days"), ("2029-03-01", "three years and a day"), (None, "no end")],
)
def test_government_procurement_ban_outside_one_to_three_years_is_refused_naming_the_articles(
    supervision, user, outbox, record_count, expect_error, ban_end, what
):
    body = record_body(ban_start="2026-03-01", ban_end=ban_end)
    response = supervision.post("/credit/records", json=body, headers=user("supervisor"))
    details = expect_error(response, 422, "gp_ban_period")
    message = response.json()["error"]["message"]
    assert "《政府采购法》第七十七条" in message and "《政府采购法实施条例》第七十八条" in message, what
    assert details["articles"] == ["政府采购法第七十七条", "政府采购法实施条例第七十八条"]
    assert (details["min_years"], details["max_years"]) == (1, 3)
    assert (details["shortest_last_day"], details["longest_last_day"]) == ("2027-02-28", "2029-02-28")
    assert record_count() == 0
    assert outbox() == []


def test_government_procurement_record_without_ban_is_accepted(create_record):
    record = create_record(ban_start=None, ban_end=None, decision="警告，罚款")
    assert (record["law"], record["ban_start"]) == ("government_procurement", None)


def test_decision_dated_in_the_future_is_refused(supervision, user, shanghai_today, record_count, expect_error):
    tomorrow = shanghai_today.fromordinal(shanghai_today.toordinal() + 1).isoformat()
    response = supervision.post("/credit/records", json=record_body(decided_on=tomorrow), headers=user("supervisor"))
    expect_error(response, 422, "decision_in_future")
    assert record_count() == 0
    today = record_body(decided_on=shanghai_today.isoformat())
    assert supervision.post("/credit/records", json=today, headers=user("supervisor")).status_code == 201


@pytest.mark.parametrize("role", ["bidder", "operator", "agency", "tenderee", "expert", "admin"])
def test_only_supervisors_record(supervision, user, outbox, record_count, expect_error, role):
    response = supervision.post("/credit/records", json=record_body(), headers=user(role, platform="gaoping"))
    assert expect_error(response, 403, "forbidden_role") == {"allowed": ["supervisor"]}
    assert record_count() == 0
    assert outbox() == []


def test_service_tokens_cannot_record(supervision, service, record_count, expect_error):
    response = supervision.post("/credit/records", json=record_body(), headers=service("credit:read"))
    assert expect_error(response, 403, "wrong_token_type") == {"required": "user", "got": "service"}
    expect_error(supervision.post("/credit/records", json=record_body()), 401, "unauthenticated")
    assert record_count() == 0


@pytest.mark.parametrize(
    ("body", "field", "error_type"),
    [
        (record_body(subject_id="91140581MA0K000000"), "subject_id", "value_error"),  # wrong check character
        (record_body(subject_id="9114058100000000"), "subject_id", "value_error"),  # too short
        (record_body(subject_id="91140581IO0K00000X"), "subject_id", "value_error"),  # I and O are not allowed
        (record_body(subject_kind="expert", subject_id=ORG), "subject_id", "value_error"),
        (record_body(subject_kind="person"), "subject_kind", "literal_error"),
        (record_body(law="civil_code"), "law", "literal_error"),
        (record_body(ban_start="2026-03-01", ban_end="2026-02-28"), "ban_end", "value_error"),
        (record_body(ban_start=None, ban_end="2027-02-28"), "ban_end", "value_error"),
        (record_body(ban_start="2026-02-30"), "ban_start", "date_from_datetime_parsing"),
        (record_body(platform="gaoping"), "platform", "extra_forbidden"),
        (record_body(published=True), "published", "extra_forbidden"),
        ({k: v for k, v in record_body().items() if k != "decision_number"}, "decision_number", "missing"),
        (record_body(act="   "), "act", "string_too_short"),
        (record_body(subject_name="x" * 201), "subject_name", "string_too_long"),
        (record_body(department="晋城\x00市财政局"), None, "value_error"),
    ],
)
def test_bad_input_is_422_with_our_error_body(
    supervision, user, outbox, record_count, expect_error, body, field, error_type
):
    response = supervision.post("/credit/records", json=body, headers=user("supervisor"))
    details = expect_error(response, 422, "validation_error")
    assert any((field is None or d["loc"][-1] == field) and d["type"] == error_type for d in details), details
    assert record_count() == 0
    assert outbox() == []


def test_end_before_start_says_so(supervision, user, expect_error):
    body = record_body(ban_start="2026-03-01", ban_end="2026-02-28")
    [detail] = expect_error(
        supervision.post("/credit/records", json=body, headers=user("supervisor")), 422, "validation_error"
    )
    assert detail["loc"] == ["body", "ban_end"]
    assert "终止日不得早于起始日" in detail["msg"]


# -- GET /credit/records/{id} ---------------------------------------------------------------------


def test_supervisors_of_the_county_and_the_city_read_a_record(supervision, user, create_record, outbox):
    created = create_record("gaoping")
    for platform in ("gaoping", "jincheng"):
        response = supervision.get(f"/credit/records/{created['id']}", headers=user("supervisor", platform=platform))
        assert response.status_code == 200, response.text
        assert response.json() == created
    assert len(outbox()) == 1  # reads are not audited


@pytest.mark.parametrize("owner", ["yangcheng", "jincheng"])
def test_another_countys_record_answers_404_like_a_missing_one(supervision, user, create_record, expect_error, owner):
    created = create_record(owner)
    headers = user("supervisor", platform="gaoping")
    refused = supervision.get(f"/credit/records/{created['id']}", headers=headers)
    expect_error(refused, 404, "not_found")
    missing = supervision.get("/credit/records/9223372036854775807", headers=headers)
    expect_error(missing, 404, "not_found")
    assert refused.json()["error"]["message"] == missing.json()["error"]["message"]


@pytest.mark.parametrize("record_id", ["0", "-1", "9223372036854775808", "abc"])
def test_malformed_record_id_is_422(supervision, user, expect_error, record_id):
    expect_error(supervision.get(f"/credit/records/{record_id}", headers=user("supervisor")), 422, "validation_error")


@pytest.mark.parametrize("role", ["bidder", "operator"])
def test_other_roles_cannot_read_records(supervision, user, create_record, expect_error, role):
    created = create_record("gaoping")
    headers = user(role, platform="gaoping")
    expect_error(supervision.get(f"/credit/records/{created['id']}", headers=headers), 403, "forbidden_role")
    expect_error(supervision.get("/credit/records", headers=headers), 403, "forbidden_role")


def test_service_tokens_cannot_read_records(supervision, credit_reader, create_record, expect_error):
    created = create_record()
    for path in (f"/credit/records/{created['id']}", "/credit/records"):
        expect_error(supervision.get(path, headers=credit_reader), 403, "wrong_token_type")


# -- GET /credit/records --------------------------------------------------------------------------


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.text
    return [r["id"] for r in response.json()["records"]]


def test_county_lists_own_records_only_and_city_lists_all(supervision, user, create_record):
    gaoping = create_record("gaoping")
    yangcheng = create_record("yangcheng")
    city = create_record("jincheng")

    assert _ids(supervision.get("/credit/records", headers=user("supervisor", platform="gaoping"))) == [gaoping["id"]]
    assert _ids(supervision.get("/credit/records", headers=user("supervisor", platform="qinshui"))) == []
    everything = [gaoping["id"], yangcheng["id"], city["id"]]
    assert _ids(supervision.get("/credit/records", headers=user("supervisor"))) == everything
    # a county asking for another county's platform gets nothing, not that county's records
    other = supervision.get(
        "/credit/records", params={"platform": "yangcheng"}, headers=user("supervisor", platform="gaoping")
    )
    assert _ids(other) == []
    city_filter = supervision.get("/credit/records", params={"platform": "yangcheng"}, headers=user("supervisor"))
    assert _ids(city_filter) == [yangcheng["id"]]


def test_listing_filters_by_subject_and_active_date(supervision, user, create_record):
    one_year = create_record()  # ORG, 2026-03-01 .. 2027-02-28
    other = create_record(subject_id=OTHER_ORG, law="bidding", ban_start="2026-06-01", ban_end=None)
    no_ban = create_record(subject_id=OTHER_ORG, ban_start=None, ban_end=None)
    revoked = create_record(subject_id=OTHER_ORG, law="bidding", ban_start="2026-01-01", ban_end="2030-01-01")
    supervision.post(
        f"/credit/records/{revoked['id']}/revoke", json={"reason": "经复议撤销"}, headers=user("supervisor")
    )
    headers = user("supervisor")

    def listed(**params: Any) -> list[int]:
        return _ids(supervision.get("/credit/records", params=params, headers=headers))

    assert listed(subject_id=OTHER_ORG.lower()) == [other["id"], no_ban["id"], revoked["id"]]
    assert listed(subject_id=ORG) == [one_year["id"]]
    assert listed(active_on="2026-05-01") == [one_year["id"]]
    assert listed(active_on="2027-02-28") == [one_year["id"], other["id"]]  # last day included
    assert listed(active_on="2027-03-01") == [other["id"]]
    assert listed(active_on="2026-02-28") == []
    assert listed(subject_id=ORG, active_on="2027-03-01") == []


def test_listing_pages_by_id_cursor(supervision, user, create_record):
    made = [create_record("lingchuan", subject_id=org_code(10 + i))["id"] for i in range(5)]
    headers = user("supervisor", platform="lingchuan")
    first = supervision.get("/credit/records", params={"limit": 2}, headers=headers).json()
    assert [r["id"] for r in first["records"]] == made[:2] and first["next_after"] == made[1]
    second = supervision.get(
        "/credit/records", params={"limit": 2, "after": first["next_after"]}, headers=headers
    ).json()
    assert [r["id"] for r in second["records"]] == made[2:4]
    last = supervision.get(
        "/credit/records", params={"limit": 2, "after": second["next_after"]}, headers=headers
    ).json()
    assert ([r["id"] for r in last["records"]], last["next_after"]) == (made[4:], None)
    end = supervision.get("/credit/records", params={"after": 2**63 - 1}, headers=headers).json()
    assert end == {"records": [], "next_after": None}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"after": 2**63}, "after"),
        ({"after": -1}, "after"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"platform": "taiyuan"}, "platform"),
        ({"subject_id": "not-a-code"}, "subject_id"),
        ({"active_on": "2026-13-01"}, "active_on"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_listing_parameters_are_422(supervision, user, expect_error, params, field):
    details = expect_error(
        supervision.get("/credit/records", params=params, headers=user("supervisor")), 422, "validation_error"
    )
    assert any(d["loc"][-1] == field for d in details), details


# -- POST /credit/records/{id}/publish and /revoke ------------------------------------------------


def test_publishing_sets_db_time_once_and_is_audited(supervision, user, create_record, outbox, connection):
    created = create_record("gaoping")
    response = supervision.post(
        f"/credit/records/{created['id']}/publish", headers=user("supervisor", platform="gaoping")
    )
    assert response.status_code == 200, response.text
    published = response.json()
    assert published["published"] is True
    published_at = datetime.fromisoformat(published["published_at"])
    assert published_at >= datetime.fromisoformat(created["created_at"])
    assert {k: v for k, v in published.items() if k not in ("published", "published_at")} == {
        k: v for k, v in created.items() if k not in ("published", "published_at")
    }
    created_event, event = outbox()
    assert created_event["action"] == "credit_record.created"
    _assert_event(event, "credit_record.published", published, {"published_at": published_at.isoformat()})


def test_publishing_twice_or_after_revocation_is_409(supervision, user, create_record, outbox, expect_error):
    headers = user("supervisor")
    first = create_record()
    assert supervision.post(f"/credit/records/{first['id']}/publish", headers=headers).status_code == 200
    expect_error(
        supervision.post(f"/credit/records/{first['id']}/publish", headers=headers),
        409,
        "credit_record_already_published",
    )
    second = create_record()
    assert (
        supervision.post(
            f"/credit/records/{second['id']}/revoke", json={"reason": "经复议撤销"}, headers=headers
        ).status_code
        == 200
    )
    expect_error(
        supervision.post(f"/credit/records/{second['id']}/publish", headers=headers), 409, "credit_record_revoked"
    )
    assert [e["action"] for e in outbox()] == [
        "credit_record.created", "credit_record.published", "credit_record.created", "credit_record.revoked"
    ]  # fmt: skip


def test_revoking_keeps_the_record_with_its_reason_and_is_audited(supervision, user, create_record, outbox):
    created = create_record("yangcheng")
    headers = user("supervisor", platform="yangcheng", sub="sup-yc")
    supervision.post(f"/credit/records/{created['id']}/publish", headers=headers)
    response = supervision.post(
        f"/credit/records/{created['id']}/revoke", json={"reason": " 经行政复议撤销 "}, headers=headers
    )
    assert response.status_code == 200, response.text
    revoked = response.json()
    assert (revoked["revoked"], revoked["revoke_reason"]) == (True, "经行政复议撤销")
    revoked_at = datetime.fromisoformat(revoked["revoked_at"])
    assert revoked_at >= datetime.fromisoformat(revoked["published_at"])
    assert (revoked["ban_start"], revoked["ban_end"], revoked["published"]) == (
        created["ban_start"],
        created["ban_end"],
        True,
    )
    assert supervision.get(f"/credit/records/{created['id']}", headers=headers).json() == revoked
    event = outbox()[-1]
    _assert_event(
        event, "credit_record.revoked", revoked, {"reason": "经行政复议撤销", "revoked_at": revoked_at.isoformat()}
    )
    assert event["actor"] == "sup-yc"


def test_revoking_twice_is_409(supervision, user, create_record, expect_error):
    created = create_record()
    path = f"/credit/records/{created['id']}/revoke"
    assert supervision.post(path, json={"reason": "经复议撤销"}, headers=user("supervisor")).status_code == 200
    expect_error(
        supervision.post(path, json={"reason": "再次撤销"}, headers=user("supervisor")),
        409,
        "credit_record_already_revoked",
    )


@pytest.mark.parametrize("body", [{}, {"reason": "撤"}, {"reason": "经复议撤销", "by": "me"}, {"reason": "x" * 1001}])
def test_revocation_needs_a_reason(supervision, user, create_record, expect_error, body):
    created = create_record()
    response = supervision.post(f"/credit/records/{created['id']}/revoke", json=body, headers=user("supervisor"))
    expect_error(response, 422, "validation_error")


@pytest.mark.parametrize("action", ["publish", "revoke"])
def test_a_county_cannot_publish_or_revoke_another_countys_record(
    supervision, user, create_record, outbox, expect_error, action
):
    created = create_record("yangcheng")
    response = supervision.post(
        f"/credit/records/{created['id']}/{action}",
        json={"reason": "经复议撤销"},
        headers=user("supervisor", platform="gaoping"),
    )
    expect_error(response, 404, "not_found")
    assert supervision.get(f"/credit/records/{created['id']}", headers=user("supervisor")).json() == created
    assert len(outbox()) == 1


@pytest.mark.parametrize("action", ["publish", "revoke"])
def test_city_supervisor_may_publish_and_revoke_a_county_record(supervision, user, create_record, action):
    created = create_record("qinshui")
    response = supervision.post(
        f"/credit/records/{created['id']}/{action}", json={"reason": "经复议撤销"}, headers=user("supervisor")
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("role", ["bidder", "operator"])
@pytest.mark.parametrize("action", ["publish", "revoke"])
def test_other_roles_cannot_publish_or_revoke(supervision, user, create_record, outbox, expect_error, role, action):
    created = create_record("gaoping")
    response = supervision.post(
        f"/credit/records/{created['id']}/{action}",
        json={"reason": "经复议撤销"},
        headers=user(role, platform="gaoping"),
    )
    expect_error(response, 403, "forbidden_role")
    assert len(outbox()) == 1


def test_publishing_an_unknown_record_is_404(supervision, user, expect_error):
    expect_error(supervision.post("/credit/records/123456789/publish", headers=user("supervisor")), 404, "not_found")
