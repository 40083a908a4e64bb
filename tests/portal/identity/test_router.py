"""Organisations and users: roles, county boundaries, validation, audit."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from services.portal.db import OutboxEvent
from shared.audit.outbox import change_digest
from shared.credit_code import make_credit_code


def _code() -> str:
    return make_credit_code("9114" + str(uuid.uuid4().int)[:13])


def _org(**overrides):
    return {"name": "晋城测试建设有限公司", "credit_code": _code(), "org_type": "bidder", **overrides}


def test_operator_registers_organisation_with_audit(portal, login, session):
    response = portal.post("/organisations", json=_org(), headers=login("operator"))
    assert response.status_code == 201, response.text
    org = response.json()
    assert org["platform"] == "jincheng"
    event = session.scalars(select(OutboxEvent).where(OutboxEvent.object_id == org["id"])).one()
    assert event.action == "organisation.created" and event.actor_role == "operator"
    assert event.digest == change_digest(event.change) and event.request_id


def test_organisation_validation(portal, login):
    headers = login("operator")
    good = _code()
    bad_check = _org(credit_code=good[:-1] + ("0" if good[-1] != "0" else "1"))
    response = portal.post("/organisations", json={**_org(), "credit_code": "91140500MA0000009X"}, headers=headers)
    assert response.status_code == 422
    assert "统一社会信用代码" in str(response.json()["error"]["details"])
    wrong = portal.post("/organisations", json=bad_check, headers=headers)
    assert wrong.status_code == 422 and "校验位" in str(wrong.json()["error"]["details"])
    assert portal.post("/organisations", json={**_org(), "extra": 1}, headers=headers).status_code == 422
    assert portal.post("/organisations", json={**_org(), "org_type": "pirate"}, headers=headers).status_code == 422
    assert portal.post("/organisations", json={**_org(), "platform": "atlantis"}, headers=headers).status_code == 422


def test_duplicate_credit_code_is_409(portal, login):
    headers = login("operator")
    body = _org()
    assert portal.post("/organisations", json=body, headers=headers).status_code == 201
    again = portal.post("/organisations", json=body, headers=headers)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "credit_code_taken"


def test_wrong_role_cannot_register_or_read_organisations(portal, login, make_org):
    org = make_org()
    for role in ("bidder", "tenderee", "supervisor", "expert"):
        headers = login(role)
        assert portal.post("/organisations", json=_org(), headers=headers).status_code == 403
        assert portal.get(f"/organisations/{org.id}", headers=headers).json()["error"]["code"] == "forbidden_role"


def test_county_boundaries_for_organisations(portal, login, make_org):
    gaoping = login("operator", platform="gaoping")
    yangcheng_org = make_org("yangcheng")
    own = portal.post("/organisations", json=_org(), headers=gaoping).json()
    assert own["platform"] == "gaoping"
    assert portal.get(f"/organisations/{yangcheng_org.id}", headers=gaoping).status_code == 404
    other = portal.post("/organisations", json=_org(platform="yangcheng"), headers=gaoping)
    assert other.status_code == 403 and other.json()["error"]["code"] == "forbidden_platform"
    listed = {o["platform"] for o in portal.get("/organisations", headers=gaoping).json()}
    assert listed == {"gaoping"}
    city = login("operator")
    assert portal.get(f"/organisations/{yangcheng_org.id}", headers=city).status_code == 200
    assert portal.post("/organisations", json=_org(platform="qinshui"), headers=city).status_code == 201


def test_admin_creates_users_within_its_platform(portal, login, make_org, session):
    county_admin = login("admin", platform="lingchuan")
    org = make_org("lingchuan", "agency")
    body = {
        "username": "lc-agency-1",
        "display_name": "代理甲",
        "password": "a-long-password",
        "roles": ["agency"],
        "organisation_id": str(org.id),
    }
    created = portal.post("/users", json=body, headers=county_admin)
    assert created.status_code == 201, created.text
    assert created.json()["platform"] == "lingchuan" and "password" not in created.text
    event = session.scalars(select(OutboxEvent).where(OutboxEvent.object_id == created.json()["id"])).one()
    assert event.action == "user.created" and "password" not in str(event.change)
    dup = portal.post("/users", json=body, headers=county_admin)
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "user_taken"
    other = portal.post("/users", json={**body, "username": "x-user", "platform": "qinshui"}, headers=county_admin)
    assert other.status_code == 403
    foreign_org = make_org("qinshui")
    assert (
        portal.post(
            "/users", json={**body, "username": "y-user", "organisation_id": str(foreign_org.id)}, headers=county_admin
        ).status_code
        == 404
    )
    assert portal.get(f"/users/{created.json()['id']}", headers=login("admin", platform="qinshui")).status_code == 404
    assert portal.get(f"/users/{created.json()['id']}", headers=login("admin")).status_code == 200


def test_user_validation(portal, login):
    admin = login("admin")
    base = {"username": "valid-name", "display_name": "用户", "roles": ["bidder"]}
    no_credentials = portal.post("/users", json=base, headers=admin)
    assert no_credentials.status_code == 422 and no_credentials.json()["error"]["code"] == "no_credentials"
    assert portal.post("/users", json={**base, "password": "short"}, headers=admin).status_code == 422
    assert (
        portal.post("/users", json={**base, "password": "long-enough-pw", "roles": ["king"]}, headers=admin).status_code
        == 422
    )
    assert (
        portal.post(
            "/users", json={**base, "username": "bad name!", "password": "long-enough-pw"}, headers=admin
        ).status_code
        == 422
    )


def test_only_admins_manage_users(portal, login, make_user):
    user = make_user("bidder")
    operator = login("operator")
    body = {"username": "someone", "display_name": "x", "password": "long-enough-pw", "roles": ["bidder"]}
    assert portal.post("/users", json=body, headers=operator).json()["error"]["code"] == "forbidden_role"
    assert portal.get(f"/users/{user.id}", headers=operator).status_code == 403
    assert portal.post(f"/users/{user.id}/disable", headers=operator).status_code == 403
    county_admin = login("admin", platform="gaoping")
    assert portal.post(f"/users/{user.id}/disable", headers=county_admin).status_code == 404


def test_me_is_for_users(portal, login, issuer):
    headers = login("expert")
    assert portal.get("/me", headers=headers).json()["roles"] == ["expert"]
    assert portal.get("/me").status_code == 401


def test_platform_registry_is_public(portal):
    platforms = {p["code"]: p for p in portal.get("/platforms").json()}
    assert set(platforms) == {"jincheng", "gaoping", "yangcheng", "lingchuan", "qinshui"}
    assert "140525" in platforms["jincheng"]["regions"] and platforms["jincheng"]["is_city"]
