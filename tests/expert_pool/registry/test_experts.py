"""Experts: registration with entry rules and protected ID numbers, reads, edits, status, /me."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime

import pytest
from sqlalchemy import text

from services.expert_pool.registry.identity_numbers import cipher_for, mask_id_number
from services.expert_pool.settings import DEV_ID_NUMBER_KEY
from shared.audit.outbox import change_digest
from tests.expert_pool.factories import expert_body, make_credit_code, make_id_number
from tests.expert_pool.registry.conftest import REGIONS, count_rows

EXPERT_FIELDS = {
    "id", "platform", "region_code", "name", "id_number_masked", "phone", "title", "title_level",
    "years_experience", "specialties", "employer_credit_code", "employer_name", "account_subject", "status",
    "status_reason", "status_changed_at", "created_at",
}  # fmt: skip


def _row(connection, expert_id: str) -> dict:
    return dict(
        connection.execute(text("select * from expert_pool.experts where id = :id"), {"id": expert_id}).mappings().one()
    )


# -- POST /experts --------------------------------------------------------------------------------


def test_county_operator_registers_expert_with_protected_identity(
    expert_pool, user, outbox, connection, specialty, make_specialty, caplog
):
    caplog.set_level(logging.DEBUG)
    second = make_specialty()
    number = make_id_number(77, region="140581")
    credit = make_credit_code(77)
    body = expert_body(
        [specialty, second, specialty],
        77,
        region="140581",
        id_number=number[:-1] + number[-1].lower(),
        employer_credit_code=credit.lower(),
        phone="+86 139-0000-0077",
        title_level="associate_senior",
        years_experience=8,
        account_subject="portal-user-77",
    )
    headers = {**user("operator", platform="gaoping", sub="op-gp", org="org-gp"), "X-Request-ID": "req-expert-1"}
    response = expert_pool.post("/experts", json=body, headers=headers)

    assert response.status_code == 201, response.text
    expert = response.json()
    assert set(expert) == EXPERT_FIELDS
    assert expert == {
        "id": expert["id"],
        "platform": "gaoping",
        "region_code": "140581",
        "name": "张建国",
        "id_number_masked": mask_id_number(number),
        "phone": "13900000077",
        "title": "高级工程师",
        "title_level": "associate_senior",
        "years_experience": 8,
        "specialties": [specialty, second],  # repeats dropped, order kept
        "employer_credit_code": credit,
        "employer_name": "晋城市建筑设计院有限公司",
        "account_subject": "portal-user-77",
        "status": "active",
        "status_reason": None,
        "status_changed_at": None,
        "created_at": expert["created_at"],
    }
    assert expert["id_number_masked"] == number[:4] + "*" * 10 + number[-4:]
    assert datetime.fromisoformat(expert["created_at"]).tzinfo is not None

    stored = _row(connection, expert["id"])
    cipher = cipher_for(DEV_ID_NUMBER_KEY)
    assert cipher.open(bytes(stored["id_number_ciphertext"]), uuid.UUID(expert["id"])) == number
    assert stored["id_number_hmac"] == cipher.lookup_hash(number)
    assert number not in json.dumps({k: v for k, v in stored.items() if k != "id_number_ciphertext"}, default=str)
    # the current employer is also the open-ended first row of the history
    history = connection.execute(
        text(
            "select employer_credit_code, started_on, ended_on from expert_pool.expert_employments "
            "where expert_id = :id"
        ),
        {"id": expert["id"]},
    ).all()
    assert [(c, str(s), e) for c, s, e in history] == [(credit, "2012-03-01", None)]

    [event] = outbox()
    assert (event["action"], event["object_type"], event["object_id"]) == ("expert.registered", "expert", expert["id"])
    assert (event["platform"], event["actor"], event["actor_role"], event["organisation"]) == (
        "gaoping", "op-gp", "operator", "org-gp",
    )  # fmt: skip
    assert event["change"] == {
        "name": "张**",
        "id_number_masked": mask_id_number(number),
        "phone_masked": "139****0077",
        "region_code": "140581",
        "platform": "gaoping",
        "title": "高级工程师",
        "title_level": "associate_senior",
        "years_experience": 8,
        "specialties": [specialty, second],
        "employer_credit_code": credit,
        "employer_name": "晋城市建筑设计院有限公司",
        "employed_since": "2012-03-01",
        "account_subject": "portal-user-77",
    }
    assert event["digest"] == change_digest(event["change"])
    assert event["request_id"] == "req-expert-1"
    everything = json.dumps(event, default=str) + caplog.text
    for secret in (number, number.lower(), "13900000077", "张建国"):
        assert secret not in everything


def test_city_admin_registers_experts_for_any_platform(expert_pool, user, outbox, specialty):
    for platform, region in REGIONS.items():
        response = expert_pool.post(
            "/experts", json=expert_body([specialty], region=region), headers=user("admin", sub="adm")
        )
        assert response.status_code == 201, response.text
        assert response.json()["platform"] == platform
    assert [e["platform"] for e in outbox()] == list(REGIONS)


def test_development_zone_experts_belong_to_the_city(expert_pool, user, specialty):
    response = expert_pool.post("/experts", json=expert_body([specialty], region="140571"), headers=user("operator"))
    assert response.json()["platform"] == "jincheng"


@pytest.mark.parametrize("region", ["140581", "140522", "140502"])
def test_county_operator_cannot_register_another_platforms_expert(
    expert_pool, user, outbox, connection, expect_error, specialty, region
):
    response = expert_pool.post(
        "/experts", json=expert_body([specialty], region=region), headers=user("operator", platform="qinshui")
    )
    details = expect_error(response, 403, "forbidden_platform")
    assert details["expert_platform"] != "qinshui"
    assert count_rows(connection, "experts") == 0
    assert outbox() == []


def test_region_outside_jincheng_is_422(expert_pool, user, outbox, expect_error, specialty):
    response = expert_pool.post("/experts", json=expert_body([specialty], region="140100"), headers=user("operator"))
    assert expect_error(response, 422, "unknown_region") == {"region_code": "140100"}
    assert outbox() == []


@pytest.mark.parametrize(
    ("title_level", "years", "failed"),
    [
        ("senior", 7, ["years_experience"]),
        ("intermediate", 20, ["title_level"]),
        ("other", 30, ["title_level"]),
        ("intermediate", 0, ["years_experience", "title_level"]),
    ],
)
def test_entry_rules_refuse_with_the_rule_named(
    expert_pool, user, outbox, connection, expect_error, specialty, title_level, years, failed
):
    body = expert_body([specialty], title_level=title_level, years_experience=years)
    details = expect_error(
        expert_pool.post("/experts", json=body, headers=user("operator")), 422, "expert_not_qualified"
    )
    assert details == {
        "failed": failed,
        "min_years_experience": 8,
        "title_levels": ["senior", "associate_senior"],
        "basis": "招标投标法 第三十七条",
    }
    assert count_rows(connection, "experts") == 0
    assert outbox() == []


def test_exactly_eight_years_and_associate_senior_qualify(expert_pool, user, specialty):
    body = expert_body([specialty], title_level="associate_senior", years_experience=8)
    assert expert_pool.post("/experts", json=body, headers=user("operator")).status_code == 201


def test_same_person_twice_is_409_across_platforms_and_formats(
    expert_pool, user, outbox, connection, expect_error, specialty
):
    number = make_id_number(5, region="140581")
    first = expert_pool.post(
        "/experts",
        json=expert_body([specialty], 1, region="140581", id_number=number),
        headers=user("operator", platform="gaoping"),
    )
    assert first.status_code == 201
    # The same number typed with a lower-case x or spaces, by the city, for another region.
    again = expert_body([specialty], 2, id_number=f" {number.lower()} ")
    details = expect_error(expert_pool.post("/experts", json=again, headers=user("admin")), 409, "expert_exists")
    assert details is None  # nothing about the existing record leaks
    assert count_rows(connection, "experts") == 1
    assert len(outbox()) == 1


def test_removed_expert_cannot_be_registered_again(expert_pool, user, expect_error, register, specialty):
    expert = register(n=9)
    expert_pool.post(f"/experts/{expert['id']}/remove", json={"reason": "违规"}, headers=user("operator"))
    response = expert_pool.post("/experts", json=expert_body([specialty], 9), headers=user("operator"))
    expect_error(response, 409, "expert_exists")


def test_portal_account_links_one_expert_only(expert_pool, user, expect_error, register, specialty):
    register(n=1, account_subject="u-1")
    response = expert_pool.post(
        "/experts", json=expert_body([specialty], 2, account_subject="u-1"), headers=user("operator")
    )
    expect_error(response, 409, "account_subject_taken")


def test_unknown_or_retired_specialty_is_422(expert_pool, user, outbox, connection, expect_error, make_specialty):
    good = make_specialty()
    retired = make_specialty(active=False)
    ghost = "X12345678"
    response = expert_pool.post("/experts", json=expert_body([good, retired, ghost]), headers=user("operator"))
    assert expect_error(response, 422, "unknown_specialty") == {"codes": [retired, ghost]}
    assert count_rows(connection, "experts") == 0
    assert outbox() == []


def test_employment_start_in_the_future_is_422(expert_pool, user, expect_error, specialty):
    body = expert_body([specialty], employed_since="2999-01-01")
    expect_error(expert_pool.post("/experts", json=body, headers=user("operator")), 422, "invalid_period")


def test_most_fundamental_refusal_wins(expert_pool, user, expect_error, register, specialty):
    register(n=3)
    # a duplicate that also fails the entry rules: the rules are the answer
    body = expert_body([specialty], 3, years_experience=2)
    expect_error(expert_pool.post("/experts", json=body, headers=user("operator")), 422, "expert_not_qualified")


@pytest.mark.parametrize(
    ("overrides", "field", "error_type"),
    [
        ({"nickname": "老张"}, "nickname", "extra_forbidden"),
        ({"platform": "jincheng"}, "platform", "extra_forbidden"),
        ({"id_number_masked": "1405"}, "id_number_masked", "extra_forbidden"),
        ({"title_level": "grandmaster"}, "title_level", "literal_error"),
        ({"years_experience": -1}, "years_experience", "greater_than_equal"),
        ({"years_experience": 71}, "years_experience", "less_than_equal"),
        ({"years_experience": "many"}, "years_experience", "int_parsing"),
        ({"specialties": []}, "specialties", "too_short"),
        ({"specialties": "A1"}, "specialties", "list_type"),
        ({"name": "张"}, "name", "string_too_short"),
        ({"region_code": "14058"}, "region_code", "string_pattern_mismatch"),
        ({"phone": "12345678901"}, "phone", "value_error"),
        ({"employer_credit_code": "91140500MA0K12345"}, "employer_credit_code", "value_error"),
        ({"employer_credit_code": 911405001234567890}, "employer_credit_code", "string_type"),
        ({"employer_name": ""}, "employer_name", "string_too_short"),
        ({"employed_since": "01/03/2012"}, "employed_since", "date_from_datetime_parsing"),
        ({"account_subject": "has space"}, "account_subject", "string_pattern_mismatch"),
        ({"id_number": "110105194912310021"}, "id_number", "value_error"),  # wrong check character
        ({"id_number": "11010519491231002"}, "id_number", "value_error"),
        ({"id_number": "1" * 40}, "id_number", "string_too_long"),
        ({"id_number": 110105194912310020}, "id_number", "string_type"),
    ],
)
def test_invalid_expert_is_422_and_never_echoes_input(
    expert_pool, user, outbox, connection, expect_error, specialty, overrides, field, error_type
):
    response = expert_pool.post("/experts", json=expert_body([specialty], **overrides), headers=user("operator"))
    details = expect_error(response, 422, "validation_error")
    assert any(d["loc"][-1] == field and d["type"] == error_type for d in details), details
    if field == "id_number" and isinstance(overrides["id_number"], str):
        assert overrides["id_number"] not in response.text
    assert count_rows(connection, "experts") == 0
    assert outbox() == []


@pytest.mark.parametrize(
    "missing",
    [
        "name",
        "id_number",
        "region_code",
        "phone",
        "title",
        "title_level",
        "years_experience",
        "specialties",
        "employer_credit_code",
        "employer_name",
        "employed_since",
    ],
)
def test_expert_missing_field_is_422(expert_pool, user, expect_error, specialty, missing):
    body = {k: v for k, v in expert_body([specialty]).items() if k != missing}
    details = expect_error(expert_pool.post("/experts", json=body, headers=user("operator")), 422, "validation_error")
    assert any(d["loc"][-1] == missing and d["type"] == "missing" for d in details), details


def test_nul_byte_is_refused_not_a_500(expert_pool, user, connection, expect_error, specialty):
    response = expert_pool.post("/experts", json=expert_body([specialty], name="张\x00三"), headers=user("operator"))
    expect_error(response, 422, "validation_error")
    assert count_rows(connection, "experts") == 0


@pytest.mark.parametrize("role", ["supervisor", "expert", "agency", "bidder", "tenderee"])
def test_non_staff_roles_cannot_register_experts(expert_pool, user, outbox, expect_error, specialty, role):
    response = expert_pool.post("/experts", json=expert_body([specialty]), headers=user(role))
    expect_error(response, 403, "forbidden_role")
    assert outbox() == []


def test_service_token_and_no_token_cannot_register(expert_pool, service, outbox, expect_error, specialty):
    expect_error(
        expert_pool.post("/experts", json=expert_body([specialty]), headers=service("experts:draw")),
        403,
        "wrong_token_type",
    )
    expect_error(expert_pool.post("/experts", json=expert_body([specialty])), 401, "unauthenticated")
    assert outbox() == []


# -- GET /experts/{id} ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["operator", "admin", "supervisor"])
def test_same_county_staff_and_supervisors_read_the_expert(expert_pool, user, outbox, register, role):
    created = register("gaoping")
    response = expert_pool.get(f"/experts/{created['id']}", headers=user(role, platform="gaoping"))
    assert response.status_code == 200, response.text
    assert response.json() == created
    assert len(outbox()) == 1  # reading writes no audit event


def test_city_principals_read_county_experts(expert_pool, user, register):
    created = register("yangcheng")
    for role in ("supervisor", "operator"):
        assert expert_pool.get(f"/experts/{created['id']}", headers=user(role)).json() == created


@pytest.mark.parametrize("owner", ["yangcheng", "jincheng"])
def test_county_principal_cannot_see_another_platforms_expert(expert_pool, user, expect_error, register, owner):
    created = register(owner)
    for role in ("operator", "supervisor", "admin"):
        expect_error(
            expert_pool.get(f"/experts/{created['id']}", headers=user(role, platform="gaoping")), 404, "not_found"
        )


def test_unknown_and_malformed_expert_ids(expert_pool, user, expect_error):
    expect_error(expert_pool.get(f"/experts/{uuid.uuid4()}", headers=user("operator")), 404, "not_found")
    expect_error(expert_pool.get("/experts/42", headers=user("operator")), 422, "validation_error")


@pytest.mark.parametrize("role", ["agency", "expert", "bidder", "tenderee"])
def test_other_roles_cannot_read_experts(expert_pool, user, service, expect_error, register, role):
    created = register()
    expect_error(expert_pool.get(f"/experts/{created['id']}", headers=user(role)), 403, "forbidden_role")
    expect_error(expert_pool.get(f"/experts/{created['id']}", headers=service("experts:draw")), 403, "wrong_token_type")


# -- GET /experts ---------------------------------------------------------------------------------


def _ids(page: dict) -> list[str]:
    return [e["id"] for e in page["experts"]]


def test_list_pages_by_a_stable_cursor(expert_pool, user, register):
    created = sorted(register(n=n)["id"] for n in range(5))
    seen: list[str] = []
    after = None
    while True:
        params = {"limit": 2, **({"after": after} if after else {})}
        page = expert_pool.get("/experts", params=params, headers=user("operator")).json()
        seen += _ids(page)
        after = page["next_after"]
        if after is None:
            break
        assert after == seen[-1]
        # A registration with a lower id than the cursor does not move later pages.
        register(n=100 + len(seen))
    assert [i for i in seen if i in created] == created
    assert seen == sorted(seen)


def test_list_filters(expert_pool, user, register, make_specialty, specialty):
    other = make_specialty()
    credit = make_credit_code(900)
    a = register(n=1, employer_credit_code=credit)
    b = register(n=2, specialties=[other, specialty])
    c = register("gaoping", n=3, specialties=[other])
    expert_pool.post(f"/experts/{a['id']}/suspend", json={"reason": "核查中"}, headers=user("operator"))

    def ids(**params) -> set[str]:
        response = expert_pool.get("/experts", params=params, headers=user("operator"))
        assert response.status_code == 200, response.text
        return set(_ids(response.json()))

    assert ids(specialty=other) == {b["id"], c["id"]}
    assert ids(specialty=specialty) == {a["id"], b["id"]}
    assert ids(status="suspended") == {a["id"]}
    assert ids(status="active", specialty=specialty) == {b["id"]}
    assert ids(platform="gaoping") == {c["id"]}
    assert ids(employer_credit_code=credit.lower()) == {a["id"]}
    assert ids(specialty=other, platform="jincheng") == {b["id"]}


def test_county_list_shows_only_its_platform(expert_pool, user, register):
    mine = register("gaoping", n=1)
    register("jincheng", n=2)
    register("qinshui", n=3)
    for role in ("operator", "supervisor"):
        page = expert_pool.get("/experts", headers=user(role, platform="gaoping")).json()
        assert _ids(page) == [mine["id"]]
        # asking for another platform does not widen the view
        page = expert_pool.get(
            "/experts", params={"platform": "qinshui"}, headers=user(role, platform="gaoping")
        ).json()
        assert page == {"experts": [], "next_after": None}
    city = expert_pool.get("/experts", headers=user("supervisor")).json()
    assert len(city["experts"]) == 3
    assert all("id_number" not in e for e in city["experts"])


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 501},
        {"status": "retired"},
        {"after": "nope"},
        {"specialty": "a1"},
        {"employer_credit_code": "x" * 19},
    ],
)
def test_bad_list_parameters_are_422(expert_pool, user, expect_error, params):
    expect_error(expert_pool.get("/experts", params=params, headers=user("operator")), 422, "validation_error")


@pytest.mark.parametrize("role", ["agency", "expert", "bidder"])
def test_other_roles_cannot_list_experts(expert_pool, user, service, expect_error, role):
    expect_error(expert_pool.get("/experts", headers=user(role)), 403, "forbidden_role")
    expect_error(expert_pool.get("/experts", headers=service("experts:draw")), 403, "wrong_token_type")


# -- PATCH /experts/{id} --------------------------------------------------------------------------


def test_operator_edits_an_expert_with_masked_audit(expert_pool, user, outbox, register, make_specialty, specialty):
    expert = register("gaoping")
    other = make_specialty()
    body = {
        "phone": "0356 2345678",
        "title": "正高级工程师",
        "specialties": [other, specialty],
        "account_subject": "u-9",
    }
    response = expert_pool.patch(f"/experts/{expert['id']}", json=body, headers=user("operator", platform="gaoping"))
    assert response.status_code == 200, response.text
    changed = {"title": "正高级工程师", "specialties": [other, specialty], "account_subject": "u-9"}
    assert response.json() == {**expert, **changed, "phone": "0356-2345678"}
    event = outbox()[-1]
    assert (event["action"], event["object_id"], event["platform"]) == ("expert.updated", expert["id"], "gaoping")
    before = {"title": "高级工程师", "specialties": [specialty], "account_subject": None}
    assert event["change"] == {
        "before": {"phone_masked": "139****" + expert["phone"][-4:], **before},
        "after": {"phone_masked": "035*****5678", **changed},
    }
    assert expert["phone"] not in json.dumps(event, default=str)


def test_unchanged_values_record_nothing_and_null_unlinks_the_account(expert_pool, user, outbox, register):
    expert = register(account_subject="u-1")
    same = expert_pool.patch(f"/experts/{expert['id']}", json={"title": expert["title"]}, headers=user("operator"))
    assert same.json() == expert
    assert len(outbox()) == 1
    unlinked = expert_pool.patch(f"/experts/{expert['id']}", json={"account_subject": None}, headers=user("operator"))
    assert unlinked.json()["account_subject"] is None
    assert outbox()[-1]["change"] == {"before": {"account_subject": "u-1"}, "after": {"account_subject": None}}


def test_edits_must_keep_the_entry_rules(expert_pool, user, outbox, expect_error, register):
    expert = register(title_level="associate_senior", years_experience=10)
    for body in ({"title_level": "intermediate"}, {"years_experience": 7}):
        details = expect_error(
            expert_pool.patch(f"/experts/{expert['id']}", json=body, headers=user("operator")),
            422,
            "expert_not_qualified",
        )
        assert details["failed"] == list(body)
    assert len(outbox()) == 1


def test_moving_region_changes_platform_for_the_city_only(expert_pool, user, expect_error, register):
    expert = register("gaoping")
    expect_error(
        expert_pool.patch(
            f"/experts/{expert['id']}", json={"region_code": "140522"}, headers=user("operator", platform="gaoping")
        ),
        403,
        "forbidden_platform",
    )
    expect_error(
        expert_pool.patch(f"/experts/{expert['id']}", json={"region_code": "110105"}, headers=user("operator")),
        422,
        "unknown_region",
    )
    moved = expert_pool.patch(f"/experts/{expert['id']}", json={"region_code": "140522"}, headers=user("operator"))
    assert (moved.json()["platform"], moved.json()["region_code"]) == ("yangcheng", "140522")
    # now Gaoping cannot see it any more
    expect_error(
        expert_pool.get(f"/experts/{expert['id']}", headers=user("operator", platform="gaoping")), 404, "not_found"
    )


def test_edit_conflicts(expert_pool, user, expect_error, register, make_specialty):
    register(n=1, account_subject="taken")
    expert = register(n=2)
    url = f"/experts/{expert['id']}"
    expect_error(
        expert_pool.patch(url, json={"account_subject": "taken"}, headers=user("operator")),
        409,
        "account_subject_taken",
    )
    retired = make_specialty(active=False)
    assert expect_error(
        expert_pool.patch(url, json={"specialties": [retired]}, headers=user("operator")), 422, "unknown_specialty"
    ) == {"codes": [retired]}


def test_a_retired_code_the_expert_already_has_may_stay(expert_pool, user, register, specialty):
    expert = register()
    expert_pool.patch(f"/specialties/{specialty}", json={"active": False}, headers=user("operator"))
    response = expert_pool.patch(
        f"/experts/{expert['id']}", json={"specialties": [specialty], "title": "教授级高工"}, headers=user("operator")
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": None},
        {"specialties": None},
        {"id_number": make_id_number(1)},
        {"employer_credit_code": make_credit_code(1)},
        {"status": "active"},
        {"phone": "1"},
    ],
)
def test_invalid_edits_are_422(expert_pool, user, outbox, expect_error, register, body):
    expert = register()
    expect_error(
        expert_pool.patch(f"/experts/{expert['id']}", json=body, headers=user("operator")), 422, "validation_error"
    )
    assert len(outbox()) == 1


def test_edit_access(expert_pool, user, service, expect_error, register):
    expert = register("yangcheng")
    url = f"/experts/{expert['id']}"
    expect_error(
        expert_pool.patch(url, json={"title": "教授"}, headers=user("operator", platform="gaoping")), 404, "not_found"
    )
    for role in ("supervisor", "expert", "agency"):
        expect_error(
            expert_pool.patch(url, json={"title": "教授"}, headers=user(role, platform="yangcheng")),
            403,
            "forbidden_role",
        )
    expect_error(
        expert_pool.patch(url, json={"title": "教授"}, headers=service("experts:draw")), 403, "wrong_token_type"
    )
    expect_error(
        expert_pool.patch(f"/experts/{uuid.uuid4()}", json={"title": "教授"}, headers=user("operator")),
        404,
        "not_found",
    )


# -- status ---------------------------------------------------------------------------------------


def test_suspend_reactivate_and_remove(expert_pool, user, outbox, connection, register):
    expert = register("gaoping")
    url = f"/experts/{expert['id']}"
    headers = user("operator", platform="gaoping")

    suspended = expert_pool.post(f"{url}/suspend", json={"reason": "连续三次无故缺席评标"}, headers=headers).json()
    assert (suspended["status"], suspended["status_reason"]) == ("suspended", "连续三次无故缺席评标")
    assert datetime.fromisoformat(suspended["status_changed_at"]).tzinfo is not None

    reactivated = expert_pool.post(f"{url}/reactivate", json={"reason": "情况已核实"}, headers=headers).json()
    assert (reactivated["status"], reactivated["status_reason"]) == ("active", None)
    assert reactivated["status_changed_at"] >= suspended["status_changed_at"]

    removed = expert_pool.post(f"{url}/remove", json={"reason": "弄虚作假"}, headers=headers).json()
    assert (removed["status"], removed["status_reason"]) == ("removed", "弄虚作假")
    assert _row(connection, expert["id"])["status"] == "removed"

    events = outbox()[1:]
    assert [(e["action"], e["change"]) for e in events] == [
        ("expert.suspended", {"from": "active", "to": "suspended", "reason": "连续三次无故缺席评标"}),
        ("expert.reactivated", {"from": "suspended", "to": "active", "reason": "情况已核实"}),
        ("expert.removed", {"from": "active", "to": "removed", "reason": "弄虚作假"}),
    ]
    assert all(e["platform"] == "gaoping" and e["object_id"] == expert["id"] for e in events)


def test_removal_is_final(expert_pool, user, outbox, expect_error, register, specialty):
    expert = register()
    url = f"/experts/{expert['id']}"
    expert_pool.post(f"{url}/suspend", json={"reason": "核查"}, headers=user("operator"))
    assert expert_pool.post(f"{url}/remove", json={"reason": "核实违规"}, headers=user("operator")).status_code == 200
    for path, body in [
        ("/reactivate", {}), ("/suspend", {"reason": "再次"}), ("/remove", {"reason": "再次"}),
    ]:  # fmt: skip
        expect_error(expert_pool.post(url + path, json=body, headers=user("operator")), 409, "expert_removed")
    expect_error(expert_pool.patch(url, json={"title": "教授"}, headers=user("operator")), 409, "expert_removed")
    expect_error(
        expert_pool.post(
            f"{url}/conflicts",
            json={"kind": "relative", "organisation_credit_code": make_credit_code(1), "description": "亲属"},
            headers=user("operator"),
        ),
        409,
        "expert_removed",
    )
    assert len(outbox()) == 3
    # the record is still readable, as evidence
    assert expert_pool.get(url, headers=user("supervisor")).json()["status"] == "removed"


def test_status_transitions_that_make_no_sense_are_409(expert_pool, user, expect_error, register):
    expert = register()
    url = f"/experts/{expert['id']}"
    details = expect_error(
        expert_pool.post(f"{url}/reactivate", json={}, headers=user("operator")), 409, "invalid_status_transition"
    )
    assert details == {"status": "active", "to": "active"}
    expert_pool.post(f"{url}/suspend", json={"reason": "核查"}, headers=user("operator"))
    details = expect_error(
        expert_pool.post(f"{url}/suspend", json={"reason": "核查"}, headers=user("operator")),
        409,
        "invalid_status_transition",
    )
    assert details == {"status": "suspended", "to": "suspended"}


@pytest.mark.parametrize("body", [{}, {"reason": "x"}, {"reason": "核查", "status": "removed"}, {"reason": "x" * 501}])
def test_suspension_needs_a_reason(expert_pool, user, expect_error, register, body):
    expert = register()
    expect_error(
        expert_pool.post(f"/experts/{expert['id']}/suspend", json=body, headers=user("operator")),
        422,
        "validation_error",
    )
    expect_error(
        expert_pool.post(f"/experts/{expert['id']}/remove", json=body, headers=user("operator")),
        422,
        "validation_error",
    )


@pytest.mark.parametrize("action", ["suspend", "remove", "reactivate"])
def test_status_access(expert_pool, user, service, outbox, expect_error, register, action):
    expert = register("lingchuan")
    url = f"/experts/{expert['id']}/{action}"
    body = {"reason": "核查原因"}
    expect_error(expert_pool.post(url, json=body, headers=user("operator", platform="qinshui")), 404, "not_found")
    expect_error(
        expert_pool.post(url, json=body, headers=user("supervisor", platform="lingchuan")), 403, "forbidden_role"
    )
    expect_error(expert_pool.post(url, json=body, headers=user("expert", platform="lingchuan")), 403, "forbidden_role")
    expect_error(expert_pool.post(url, json=body, headers=service("experts:draw")), 403, "wrong_token_type")
    assert len(outbox()) == 1


# -- GET /me/expert -------------------------------------------------------------------------------


def test_expert_sees_their_own_record_masked(expert_pool, user, register):
    number = make_id_number(31)
    expert = register(n=31, account_subject="expert-31")
    response = expert_pool.get("/me/expert", headers=user("expert", sub="expert-31", platform="gaoping"))
    assert response.status_code == 200, response.text
    assert response.json() == expert
    assert response.json()["id_number_masked"] == mask_id_number(number)
    assert number not in response.text


def test_expert_without_a_linked_record_gets_404(expert_pool, user, register, expect_error):
    register(account_subject="someone-else")
    expect_error(expert_pool.get("/me/expert", headers=user("expert", sub="nobody")), 404, "expert_not_linked")


@pytest.mark.parametrize("role", ["operator", "admin", "supervisor", "bidder"])
def test_me_expert_is_for_experts_only(expert_pool, user, service, register, expect_error, role):
    register(account_subject="shared-sub")
    expect_error(expert_pool.get("/me/expert", headers=user(role, sub="shared-sub")), 403, "forbidden_role")
    expect_error(
        expert_pool.get("/me/expert", headers=service("experts:draw", sub="shared-sub")), 403, "wrong_token_type"
    )
