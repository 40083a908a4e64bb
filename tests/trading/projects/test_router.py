"""Project registration: region decides the platform, the token decides the organisation,
the catalogue decides 应进必进."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

TENDEREE = str(uuid.uuid4())
AGENCY = str(uuid.uuid4())


def project_body(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "晋城市某道路改造工程",
        "category_code": "engineering_works",
        "region_code": "140502",
        "estimated_price_fen": 500_000_000,
        "funding_source": "财政资金",
        "tenderee_org": TENDEREE,
        "agency_org": AGENCY,
        **overrides,
    }


@pytest.fixture
def register(trading, user):
    def do(role: str = "agency", platform: str = "jincheng", org: str = AGENCY, **overrides: Any):
        return trading.post("/projects", json=project_body(**overrides), headers=user(role, platform=platform, org=org))

    return do


def test_agency_registers_project_with_code_and_audit(register, outbox):
    response = register()
    assert response.status_code == 201, response.text
    project = response.json()
    assert project["platform"] == "jincheng" and project["code"].startswith("JCS2026")
    assert project["must_enter"] is True and "限额" in project["must_enter_reason"]
    event = outbox()[-1]
    assert event["action"] == "project.registered" and event["object_id"] == project["id"]
    second = register().json()
    assert int(second["code"][-5:]) == int(project["code"][-5:]) + 1


def test_region_decides_the_platform(register, user):
    assert register(region_code="140581").json()["platform"] == "gaoping"  # city agency, Gaoping project
    assert register(region_code="140525").json()["platform"] == "jincheng"  # 泽州县 trades on the city platform


def test_must_enter_follows_the_catalogue(register):
    below = register(estimated_price_fen=399_999_999).json()
    assert below["must_enter"] is False
    assert register(estimated_price_fen=400_000_000).json()["must_enter"] is True
    assert register(category_code="gp_goods", estimated_price_fen=1).json()["must_enter"] is True


def test_tenderee_registers_its_own_only(register, expect_error):
    assert register(role="tenderee", org=TENDEREE).status_code == 201
    expect_error(register(role="tenderee", org=str(uuid.uuid4())), 403, "not_your_organisation")
    expect_error(register(role="agency", org=str(uuid.uuid4())), 403, "not_your_organisation")
    expect_error(register(role="agency", org=AGENCY, agency_org=None), 403, "not_your_organisation")


def test_county_cannot_register_in_another_county(register, expect_error):
    assert register(platform="gaoping", region_code="140581").status_code == 201
    details = expect_error(register(platform="gaoping", region_code="140522"), 403, "forbidden_platform")
    assert details["project_platform"] == "yangcheng"


def test_wrong_roles(register, expect_error):
    for role in ("bidder", "operator", "supervisor", "expert"):
        expect_error(register(role=role), 403, "forbidden_role")


def test_bad_input(register, expect_error):
    expect_error(register(region_code="110105"), 422, "unknown_region")
    expect_error(register(category_code="space_travel"), 422, "unknown_category")
    expect_error(register(estimated_price_fen=12.5), 422, "validation_error")
    expect_error(register(estimated_price_fen=-1), 422, "validation_error")
    expect_error(register(extra_field=1), 422, "validation_error")
    expect_error(register(name="x\u0000y"), 422, "validation_error")


def test_who_sees_a_project(trading, register, user, service, expect_error):
    project = register(region_code="140581").json()  # a Gaoping project
    path = f"/projects/{project['id']}"
    assert trading.get(path, headers=user("agency", org=AGENCY)).status_code == 200
    assert trading.get(path, headers=user("tenderee", platform="gaoping", org=TENDEREE)).status_code == 200
    assert trading.get(path, headers=user("operator", platform="gaoping")).status_code == 200
    assert trading.get(path, headers=user("supervisor")).status_code == 200
    assert trading.get(path, headers=service("trading:read", platform="gaoping")).status_code == 200
    expect_error(trading.get(path, headers=user("operator", platform="yangcheng")), 404, "not_found")
    expect_error(trading.get(path, headers=service("trading:read", platform="qinshui")), 404, "not_found")
    expect_error(trading.get(path, headers=user("agency", org=str(uuid.uuid4()))), 404, "not_found")
    expect_error(trading.get(path, headers=user("bidder")), 403, "forbidden_role")
    expect_error(trading.get(path, headers=service("credit:read")), 403, "insufficient_scope")


def test_listing_is_confined(trading, register, user):
    register(region_code="140581")
    register(region_code="140502")
    gaoping = trading.get("/projects", headers=user("operator", platform="gaoping")).json()
    assert gaoping and {p["platform"] for p in gaoping} == {"gaoping"}
    city = {p["platform"] for p in trading.get("/projects", headers=user("operator")).json()}
    assert {"gaoping", "jincheng"} <= city
    stranger = trading.get("/projects", headers=user("agency", org=str(uuid.uuid4()))).json()
    assert stranger == []
    page = trading.get("/projects?limit=1", headers=user("operator")).json()
    after = trading.get(f"/projects?limit=1&after={page[0]['id']}", headers=user("operator")).json()
    assert page[0]["id"] != after[0]["id"]
