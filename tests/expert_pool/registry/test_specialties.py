"""The specialty code list: one list for the 1+4 platforms, edited by city staff only, audited."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import text

from shared.audit.outbox import change_digest
from tests.expert_pool.registry.conftest import count_rows


def _code(letter: str = "A") -> str:
    return letter + "".join(random.choices("0123456789", k=8))


def _stored(connection, code: str) -> tuple:
    return tuple(
        connection.execute(
            text("select name, parent_code, active from expert_pool.specialties where code = :c"), {"c": code}
        ).one()
    )


# -- POST /specialties ----------------------------------------------------------------------------


def test_city_operator_adds_specialty_with_audit(expert_pool, user, outbox, connection):
    code = _code("B")
    headers = {**user("operator", sub="city-op", org="org-city"), "X-Request-ID": "req-spec-1"}
    response = expert_pool.post("/specialties", json={"code": code, "name": "房屋建筑工程"}, headers=headers)

    assert response.status_code == 201, response.text
    assert response.json() == {"code": code, "name": "房屋建筑工程", "parent_code": None, "active": True}
    assert _stored(connection, code) == ("房屋建筑工程", None, True)
    [event] = outbox()
    change = {"code": code, "name": "房屋建筑工程", "parent_code": None}
    assert (event["action"], event["object_type"], event["object_id"]) == ("specialty.created", "specialty", code)
    assert (event["platform"], event["actor"], event["actor_role"]) == ("jincheng", "city-op", "operator")
    assert event["organisation"] == "org-city"
    assert event["change"] == change
    assert event["digest"] == change_digest(change)
    assert event["request_id"] == "req-spec-1"


def test_city_admin_adds_child_specialty(expert_pool, user, outbox, make_specialty):
    parent = make_specialty()
    child = parent + "01"
    response = expert_pool.post(
        "/specialties", json={"code": child, "name": "土建子专业", "parent_code": parent}, headers=user("admin")
    )
    assert response.status_code == 201, response.text
    assert response.json() == {"code": child, "name": "土建子专业", "parent_code": parent, "active": True}
    [event] = outbox()
    assert (event["object_id"], event["actor_role"]) == (child, "admin")


@pytest.mark.parametrize("platform", ["gaoping", "yangcheng", "lingchuan", "qinshui"])
def test_county_operators_cannot_add_to_the_shared_list(expert_pool, user, outbox, connection, expect_error, platform):
    before = count_rows(connection, "specialties")
    response = expert_pool.post(
        "/specialties", json={"code": _code(), "name": "县级专业"}, headers=user("operator", platform=platform)
    )
    expect_error(response, 403, "city_only")
    assert count_rows(connection, "specialties") == before
    assert outbox() == []


@pytest.mark.parametrize("role", ["supervisor", "expert", "agency", "bidder", "tenderee"])
def test_non_staff_roles_cannot_add_specialties(expert_pool, user, outbox, expect_error, role):
    response = expert_pool.post("/specialties", json={"code": _code(), "name": "某专业"}, headers=user(role))
    details = expect_error(response, 403, "forbidden_role")
    assert set(details["allowed"]) == {"operator", "admin"}
    assert outbox() == []


def test_service_token_cannot_add_specialties(expert_pool, service, outbox, expect_error):
    response = expert_pool.post(
        "/specialties", json={"code": _code(), "name": "某专业"}, headers=service("experts:draw")
    )
    assert expect_error(response, 403, "wrong_token_type") == {"required": "user", "got": "service"}
    assert outbox() == []


def test_duplicate_specialty_code_is_409(expert_pool, user, outbox, connection, expect_error, make_specialty):
    code = make_specialty()
    response = expert_pool.post("/specialties", json={"code": code, "name": "重复专业"}, headers=user("operator"))
    expect_error(response, 409, "specialty_exists")
    assert _stored(connection, code)[0] == f"专业{code}"
    # naming itself as its parent must not turn the duplicate into a 500
    response = expert_pool.post(
        "/specialties", json={"code": code, "name": "重复专业", "parent_code": code}, headers=user("operator")
    )
    expect_error(response, 409, "specialty_exists")
    assert outbox() == []


def test_unknown_parent_specialty_is_422(expert_pool, user, outbox, expect_error):
    response = expert_pool.post(
        "/specialties", json={"code": _code(), "name": "孤儿专业", "parent_code": _code("Q")}, headers=user("operator")
    )
    expect_error(response, 422, "unknown_parent")
    assert outbox() == []


@pytest.mark.parametrize(
    ("body", "field", "error_type"),
    [
        ({"code": "A1", "name": "专业", "extra": 1}, "extra", "extra_forbidden"),
        ({"name": "专业"}, "code", "missing"),
        ({"code": "A1"}, "name", "missing"),
        ({"code": "a1", "name": "专业"}, "code", "string_pattern_mismatch"),
        ({"code": "1A", "name": "专业"}, "code", "string_pattern_mismatch"),
        ({"code": "A" + "1" * 16, "name": "专业"}, "code", "string_pattern_mismatch"),
        ({"code": "A1", "name": "专"}, "name", "string_too_short"),
    ],
)
def test_invalid_specialty_is_422(expert_pool, user, outbox, expect_error, body, field, error_type):
    details = expect_error(
        expert_pool.post("/specialties", json=body, headers=user("operator")), 422, "validation_error"
    )
    assert any(d["loc"][-1] == field and d["type"] == error_type for d in details), details
    assert outbox() == []


# -- PATCH /specialties/{code} --------------------------------------------------------------------


def test_city_operator_renames_and_deactivates(expert_pool, user, outbox, connection, make_specialty):
    code = make_specialty()
    response = expert_pool.patch(f"/specialties/{code}", json={"name": "市政公用工程"}, headers=user("operator"))
    assert response.status_code == 200, response.text
    assert response.json() == {"code": code, "name": "市政公用工程", "parent_code": None, "active": True}
    response = expert_pool.patch(f"/specialties/{code}", json={"active": False}, headers=user("admin"))
    assert response.json()["active"] is False
    assert _stored(connection, code) == ("市政公用工程", None, False)

    renamed, deactivated = outbox()
    assert (renamed["action"], renamed["object_id"]) == ("specialty.updated", code)
    assert renamed["change"] == {"before": {"name": f"专业{code}"}, "after": {"name": "市政公用工程"}}
    assert deactivated["change"] == {"before": {"active": True}, "after": {"active": False}}
    assert deactivated["digest"] == change_digest(deactivated["change"])


def test_reactivating_a_specialty_and_a_change_to_nothing(expert_pool, user, outbox, connection, make_specialty):
    code = make_specialty(active=False)
    response = expert_pool.patch(f"/specialties/{code}", json={"active": True}, headers=user("operator"))
    assert response.json()["active"] is True
    # the same value again changes nothing and records nothing
    response = expert_pool.patch(f"/specialties/{code}", json={"active": True}, headers=user("operator"))
    assert response.status_code == 200
    assert len(outbox()) == 1


def test_a_deactivated_specialty_is_refused_for_new_experts(expert_pool, user, make_specialty, expect_error):
    from tests.expert_pool.factories import expert_body

    code = make_specialty()
    expert_pool.patch(f"/specialties/{code}", json={"active": False}, headers=user("operator"))
    response = expert_pool.post("/experts", json=expert_body([code]), headers=user("operator"))
    assert expect_error(response, 422, "unknown_specialty") == {"codes": [code]}


def test_patch_unknown_specialty_is_404(expert_pool, user, outbox, expect_error):
    expect_error(
        expert_pool.patch("/specialties/Z999", json={"name": "不存在"}, headers=user("operator")), 404, "not_found"
    )
    assert outbox() == []


@pytest.mark.parametrize(
    "body",
    [{}, {"name": "专"}, {"active": "maybe"}, {"code": "B1"}, {"parent_code": "B1"}, {"name": None, "active": None}],
)
def test_invalid_specialty_patch_is_422(expert_pool, user, outbox, expect_error, make_specialty, body):
    code = make_specialty()
    expect_error(
        expert_pool.patch(f"/specialties/{code}", json=body, headers=user("operator")), 422, "validation_error"
    )
    assert outbox() == []


@pytest.mark.parametrize("platform", ["gaoping", "qinshui"])
def test_county_operators_cannot_patch_specialties(
    expert_pool, user, outbox, connection, expect_error, make_specialty, platform
):
    code = make_specialty()
    response = expert_pool.patch(
        f"/specialties/{code}", json={"active": False}, headers=user("operator", platform=platform)
    )
    expect_error(response, 403, "city_only")
    assert _stored(connection, code)[2] is True
    assert outbox() == []


@pytest.mark.parametrize("role", ["supervisor", "expert", "agency"])
def test_other_roles_cannot_patch_specialties(expert_pool, user, service, expect_error, make_specialty, role):
    code = make_specialty()
    expect_error(
        expert_pool.patch(f"/specialties/{code}", json={"active": False}, headers=user(role)), 403, "forbidden_role"
    )
    expect_error(
        expert_pool.patch(f"/specialties/{code}", json={"active": False}, headers=service("experts:draw")),
        403,
        "wrong_token_type",
    )


# -- GET /specialties -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "platform"),
    [
        ("operator", "gaoping"),
        ("admin", "jincheng"),
        ("supervisor", "yangcheng"),
        ("agency", "qinshui"),
        ("expert", "jincheng"),
    ],
)
def test_specialty_list_is_one_list_for_all_platforms(expert_pool, user, outbox, make_specialty, role, platform):
    second = make_specialty(_code("C"))
    first = make_specialty(_code("B"))
    retired = make_specialty(_code("D"), active=False)
    response = expert_pool.get("/specialties", headers=user(role, platform=platform))
    assert response.status_code == 200, response.text
    listed = response.json()
    assert [s["code"] for s in listed] == sorted(s["code"] for s in listed)
    mine = [s for s in listed if s["code"] in {first, second, retired}]
    assert mine == [
        {"code": first, "name": f"专业{first}", "parent_code": None, "active": True},
        {"code": second, "name": f"专业{second}", "parent_code": None, "active": True},
        {"code": retired, "name": f"专业{retired}", "parent_code": None, "active": False},
    ]
    assert outbox() == []


@pytest.mark.parametrize("role", ["bidder", "tenderee"])
def test_other_roles_cannot_list_specialties(expert_pool, user, expect_error, role):
    details = expect_error(expert_pool.get("/specialties", headers=user(role)), 403, "forbidden_role")
    assert "operator" in details["allowed"]


def test_service_lists_specialties_only_with_experts_draw_scope(expert_pool, service, expect_error, make_specialty):
    code = make_specialty()
    ok = expert_pool.get("/specialties", headers=service("experts:draw"))
    assert ok.status_code == 200, ok.text
    assert code in [s["code"] for s in ok.json()]
    details = expect_error(expert_pool.get("/specialties", headers=service("trading:read")), 403, "insufficient_scope")
    assert details == {"missing": ["experts:draw"]}
