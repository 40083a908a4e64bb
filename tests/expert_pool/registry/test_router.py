"""Specialties and experts: city-only code list, county boundaries, validation, duplicates and audit."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from services.expert_pool.registry.models import Specialty
from shared.audit.outbox import change_digest
from shared.credit_code import make_credit_code


def _code(letter: str = "A") -> str:
    return letter + "".join(random.choices("0123456789", k=8))


def _credit_code() -> str:
    return make_credit_code("9114" + str(uuid.uuid4().int)[:13])


def _count(connection: Connection, table: str) -> int:
    return int(connection.execute(text(f"select count(*) from expert_pool.{table}")).scalar_one())  # noqa: S608


@pytest.fixture
def make_specialty(session: Session) -> Callable[..., str]:
    """A specialty straight in the test transaction (so only the request under test is audited)."""

    def build(code: str | None = None, *, active: bool = True, parent_code: str | None = None) -> str:
        code = code or _code()
        session.add(Specialty(code=code, name=f"专业{code}", parent_code=parent_code, active=active))
        session.flush()
        return code

    return build


def _expert(codes: list[str], /, **overrides: Any) -> dict[str, Any]:
    return {
        "name": "张建国",
        "title": "高级工程师",
        "title_level": "senior",
        "years_experience": 15,
        "specialties": codes,
        "employer_credit_code": _credit_code(),
        **overrides,
    }


# -- POST /specialties ----------------------------------------------------------------------------


def test_city_operator_adds_specialty_with_audit(expert_pool, user, outbox, connection):
    code = _code("B")
    body = {"code": code, "name": "房屋建筑工程"}
    headers = {**user("operator", sub="city-op", org="org-city"), "X-Request-ID": "req-spec-1"}
    response = expert_pool.post("/specialties", json=body, headers=headers)

    assert response.status_code == 201, response.text
    assert response.json() == {"code": code, "name": "房屋建筑工程", "parent_code": None, "active": True}
    stored = connection.execute(
        text("select name, parent_code, active from expert_pool.specialties where code = :c"), {"c": code}
    ).one()
    assert tuple(stored) == ("房屋建筑工程", None, True)

    [event] = outbox()
    change = {"code": code, "name": "房屋建筑工程", "parent_code": None}
    assert event["action"] == "specialty.created"
    assert event["object_type"] == "specialty"
    assert event["object_id"] == code
    assert event["platform"] == "jincheng"
    assert (event["actor"], event["actor_role"], event["organisation"]) == ("city-op", "operator", "org-city")
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
    assert event["change"] == {"code": child, "name": "土建子专业", "parent_code": parent}
    assert event["digest"] == change_digest(event["change"])


@pytest.mark.parametrize("platform", ["gaoping", "yangcheng", "lingchuan", "qinshui"])
def test_county_operators_cannot_edit_the_shared_specialty_list(
    expert_pool, user, outbox, connection, expect_error, platform
):
    before = _count(connection, "specialties")
    response = expert_pool.post(
        "/specialties", json={"code": _code(), "name": "县级专业"}, headers=user("operator", platform=platform)
    )
    expect_error(response, 403, "city_only")
    assert _count(connection, "specialties") == before
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
    assert (
        connection.execute(text("select name from expert_pool.specialties where code = :c"), {"c": code}).scalar_one()
        == f"专业{code}"
    )
    assert outbox() == []


def test_duplicate_specialty_code_naming_itself_as_parent_is_409_not_500(
    expert_pool, user, outbox, expect_error, make_specialty
):
    code = make_specialty()
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
    child = make_specialty(first + "7", parent_code=first)
    retired = make_specialty(_code("D"), active=False)
    response = expert_pool.get("/specialties", headers=user(role, platform=platform))
    assert response.status_code == 200, response.text
    listed = response.json()
    assert [s["code"] for s in listed] == sorted(s["code"] for s in listed)
    mine = [s for s in listed if s["code"] in {first, second, child, retired}]
    assert mine == [
        {"code": first, "name": f"专业{first}", "parent_code": None, "active": True},
        {"code": child, "name": f"专业{child}", "parent_code": first, "active": True},
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


# -- POST /experts --------------------------------------------------------------------------------


def test_county_operator_registers_expert_with_masked_audit(expert_pool, user, outbox, connection, make_specialty):
    codes = [make_specialty(), make_specialty()]
    credit = _credit_code()
    body = _expert(codes, employer_credit_code=credit.lower(), title_level="associate_senior", years_experience=0)
    headers = {**user("operator", platform="gaoping", sub="op-gp", org="org-gp"), "X-Request-ID": "req-expert-1"}
    response = expert_pool.post("/experts", json=body, headers=headers)

    assert response.status_code == 201, response.text
    expert = response.json()
    assert set(expert) == {
        "id", "platform", "name", "title", "title_level", "years_experience", "specialties",
        "employer_credit_code", "status", "created_at",
    }  # fmt: skip
    assert uuid.UUID(expert["id"])
    assert expert["platform"] == "gaoping"
    assert expert["status"] == "active"
    assert expert["employer_credit_code"] == credit  # normalised to upper case
    assert {k: expert[k] for k in ("name", "title", "title_level", "years_experience", "specialties")} == {
        "name": "张建国", "title": "高级工程师", "title_level": "associate_senior", "years_experience": 0,
        "specialties": codes,
    }  # fmt: skip
    assert datetime.fromisoformat(expert["created_at"]).tzinfo is not None
    stored = connection.execute(
        text("select platform, name, employer_credit_code from expert_pool.experts where id = :id"),
        {"id": expert["id"]},
    ).one()
    assert tuple(stored) == ("gaoping", "张建国", credit)

    [event] = outbox()
    change = {**body, "employer_credit_code": credit, "name": "***"}
    assert event["action"] == "expert.registered"
    assert event["object_type"] == "expert"
    assert event["object_id"] == expert["id"]
    assert event["platform"] == "gaoping"
    assert (event["actor"], event["actor_role"], event["organisation"]) == ("op-gp", "operator", "org-gp")
    assert event["change"] == change
    assert "张建国" not in str(event["change"])  # the expert's name never leaves the pool
    assert event["digest"] == change_digest(change)
    assert event["request_id"] == "req-expert-1"


def test_city_admin_registers_city_expert(expert_pool, user, outbox, make_specialty):
    response = expert_pool.post("/experts", json=_expert([make_specialty()]), headers=user("admin", sub="adm"))
    assert response.status_code == 201, response.text
    assert response.json()["platform"] == "jincheng"
    [event] = outbox()
    assert (event["platform"], event["actor"], event["actor_role"]) == ("jincheng", "adm", "admin")


def test_unknown_or_retired_specialty_is_422(expert_pool, user, outbox, connection, expect_error, make_specialty):
    good = make_specialty()
    retired = make_specialty(active=False)
    ghost = _code("X")
    response = expert_pool.post("/experts", json=_expert([good, retired, ghost]), headers=user("operator"))
    details = expect_error(response, 422, "unknown_specialty")
    assert details == {"codes": sorted([retired, ghost])}
    assert _count(connection, "experts") == 0
    assert outbox() == []


@pytest.mark.parametrize(
    ("overrides", "field", "error_type"),
    [
        ({"nickname": "老张"}, "nickname", "extra_forbidden"),
        ({"platform": "jincheng"}, "platform", "extra_forbidden"),
        ({"title_level": "grandmaster"}, "title_level", "literal_error"),
        ({"years_experience": -1}, "years_experience", "greater_than_equal"),
        ({"years_experience": 71}, "years_experience", "less_than_equal"),
        ({"specialties": []}, "specialties", "too_short"),
        ({"name": "张"}, "name", "string_too_short"),
        ({"employer_credit_code": "91140500MA0K12345"}, "employer_credit_code", "value_error"),  # 17 chars
        ({"employer_credit_code": "91140500MA0K12345I"}, "employer_credit_code", "value_error"),  # I not allowed
        ({"employer_credit_code": 911405001234567890}, "employer_credit_code", "string_type"),
    ],
)
def test_invalid_expert_is_422(
    expert_pool, user, outbox, connection, expect_error, make_specialty, overrides, field, error_type
):
    response = expert_pool.post("/experts", json=_expert([make_specialty()], **overrides), headers=user("operator"))
    details = expect_error(response, 422, "validation_error")
    assert any(d["loc"][-1] == field and d["type"] == error_type for d in details), details
    assert _count(connection, "experts") == 0
    assert outbox() == []


def test_wrong_check_character_in_credit_code_is_422(expert_pool, user, outbox, expect_error, make_specialty):
    good = _credit_code()
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    details = expect_error(
        expert_pool.post(
            "/experts", json=_expert([make_specialty()], employer_credit_code=bad), headers=user("operator")
        ),
        422,
        "validation_error",
    )
    assert "校验位" in str(details)
    assert outbox() == []


@pytest.mark.parametrize(
    "missing", ["name", "title", "title_level", "years_experience", "specialties", "employer_credit_code"]
)
def test_expert_missing_field_is_422(expert_pool, user, expect_error, make_specialty, missing):
    body = {k: v for k, v in _expert([make_specialty()]).items() if k != missing}
    details = expect_error(expert_pool.post("/experts", json=body, headers=user("operator")), 422, "validation_error")
    assert any(d["loc"][-1] == missing and d["type"] == "missing" for d in details), details


@pytest.mark.parametrize("role", ["supervisor", "expert", "agency", "bidder"])
def test_non_staff_roles_cannot_register_experts(expert_pool, user, outbox, expect_error, make_specialty, role):
    response = expert_pool.post("/experts", json=_expert([make_specialty()]), headers=user(role, platform="gaoping"))
    expect_error(response, 403, "forbidden_role")
    assert outbox() == []


def test_service_token_cannot_register_experts(expert_pool, service, outbox, expect_error, make_specialty):
    response = expert_pool.post("/experts", json=_expert([make_specialty()]), headers=service("experts:draw"))
    expect_error(response, 403, "wrong_token_type")
    assert outbox() == []


def test_nul_byte_in_expert_name_is_refused_not_a_500(expert_pool, user, connection, expect_error, make_specialty):
    response = expert_pool.post("/experts", json=_expert([make_specialty()], name="张\x00三"), headers=user("operator"))
    expect_error(response, 422, "validation_error")
    assert _count(connection, "experts") == 0


# -- GET /experts/{id} ----------------------------------------------------------------------------


def _register(expert_pool, user, codes: list[str], platform: str) -> dict[str, Any]:
    response = expert_pool.post("/experts", json=_expert(codes), headers=user("operator", platform=platform))
    assert response.status_code == 201, response.text
    return dict(response.json())


@pytest.mark.parametrize("role", ["operator", "admin", "supervisor"])
def test_same_county_staff_and_supervisors_read_the_expert(expert_pool, user, outbox, make_specialty, role):
    created = _register(expert_pool, user, [make_specialty()], "gaoping")
    response = expert_pool.get(f"/experts/{created['id']}", headers=user(role, platform="gaoping"))
    assert response.status_code == 200, response.text
    assert response.json() == created
    assert len(outbox()) == 1  # reading writes no audit event


def test_city_supervisor_reads_a_county_expert(expert_pool, user, make_specialty):
    created = _register(expert_pool, user, [make_specialty()], "yangcheng")
    response = expert_pool.get(f"/experts/{created['id']}", headers=user("supervisor"))
    assert response.status_code == 200, response.text
    assert response.json() == created


@pytest.mark.parametrize("owner", ["yangcheng", "jincheng"])
def test_county_principal_cannot_see_another_platforms_expert(expert_pool, user, expect_error, make_specialty, owner):
    created = _register(expert_pool, user, [make_specialty()], owner)
    for role in ("operator", "supervisor"):
        expect_error(
            expert_pool.get(f"/experts/{created['id']}", headers=user(role, platform="gaoping")), 404, "not_found"
        )


def test_unknown_and_malformed_expert_ids(expert_pool, user, expect_error):
    expect_error(expert_pool.get(f"/experts/{uuid.uuid4()}", headers=user("operator")), 404, "not_found")
    expect_error(expert_pool.get("/experts/42", headers=user("operator")), 422, "validation_error")


@pytest.mark.parametrize("role", ["agency", "expert", "bidder", "tenderee"])
def test_other_roles_cannot_read_experts(expert_pool, user, expect_error, make_specialty, role):
    created = _register(expert_pool, user, [make_specialty()], "jincheng")
    expect_error(expert_pool.get(f"/experts/{created['id']}", headers=user(role)), 403, "forbidden_role")


def test_service_token_cannot_read_experts(expert_pool, user, service, expect_error, make_specialty):
    created = _register(expert_pool, user, [make_specialty()], "jincheng")
    response = expert_pool.get(f"/experts/{created['id']}", headers=service("experts:draw"))
    expect_error(response, 403, "wrong_token_type")
