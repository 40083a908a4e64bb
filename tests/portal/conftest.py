"""Portal fixtures: users made straight in the test transaction, tokens obtained through the API."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from services.portal.identity.models import Organisation, User
from services.portal.identity.passwords import hash_password
from shared.credit_code import make_credit_code

PASSWORD = "correct-horse-battery"


@pytest.fixture
def portal(make_client) -> TestClient:
    return make_client("portal")


@pytest.fixture
def make_org(session: Session) -> Callable[..., Organisation]:
    def build(platform: str = "jincheng", org_type: str = "bidder") -> Organisation:
        body = "9114" + uuid.uuid4().int.__str__()[:13]
        org = Organisation(
            name=f"测试机构{body[-4:]}", credit_code=make_credit_code(body), org_type=org_type, platform=platform
        )
        session.add(org)
        session.flush()
        return org

    return build


@pytest.fixture
def make_user(session: Session) -> Callable[..., User]:
    def build(
        *roles: str,
        platform: str = "jincheng",
        password: str | None = PASSWORD,
        cert_subject_serial: str | None = None,
        organisation_id: uuid.UUID | None = None,
    ) -> User:
        user = User(
            username=f"u-{uuid.uuid4().hex[:10]}",
            display_name="测试用户",
            roles=list(roles or ["bidder"]),
            platform=platform,
            password_hash=hash_password(password) if password else None,
            cert_subject_serial=cert_subject_serial,
            organisation_id=organisation_id,
        )
        session.add(user)
        session.flush()
        return user

    return build


@pytest.fixture
def login(portal: TestClient, make_user) -> Callable[..., dict[str, str]]:
    """``login("admin", platform="gaoping")`` -> Authorization headers of a fresh user with that role."""

    def do(*roles: str, platform: str = "jincheng", audience: list[str] | None = None) -> dict[str, str]:
        user = make_user(*roles, platform=platform)
        body: dict[str, object] = {"username": user.username, "password": PASSWORD}
        if audience is not None:
            body["audience"] = audience
        response = portal.post("/auth/login", json=body)
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    return do
