"""API clients and the client-credentials grant."""

from __future__ import annotations

import uuid

from jose import jwt
from sqlalchemy import select

from services.portal.db import OutboxEvent
from services.portal.oauth.models import ApiClient
from services.portal.settings import MAX_SERVICE_TOKEN_SECONDS


def _client_body(**overrides):
    return {
        "client_id": f"c-{uuid.uuid4().hex[:8]}",
        "name": "县平台对接",
        "kind": "county_platform",
        "scopes": ["trading:read"],
        **overrides,
    }


def _token(portal, client_id, secret, **form):
    data = {"grant_type": "client_credentials", "audience": "trading", **form}
    return portal.post("/oauth/token", data=data, auth=(client_id, secret))


def test_register_client_and_get_token(portal, login, session):
    created = portal.post("/clients", json=_client_body(), headers=login("admin", platform="gaoping"))
    assert created.status_code == 201, created.text
    client = created.json()
    assert client["platform"] == "gaoping" and client["client_secret"]
    stored = session.get(ApiClient, client["client_id"])
    assert client["client_secret"] not in stored.secret_hash
    response = _token(portal, client["client_id"], client["client_secret"])
    assert response.status_code == 200, response.text
    claims = jwt.get_unverified_claims(response.json()["access_token"])
    assert claims["typ"] == "service" and claims["sub"] == client["client_id"]
    assert claims["platform"] == "gaoping" and claims["aud"] == "trading" and claims["scope"] == "trading:read"
    assert claims["roles"] == [] and "org" in claims
    assert 0 < claims["exp"] - claims["iat"] <= MAX_SERVICE_TOKEN_SECONDS
    assert session.scalars(select(OutboxEvent).where(OutboxEvent.action == "client.created")).one()


def test_form_credentials_also_work(portal, login):
    client = portal.post("/clients", json=_client_body(), headers=login("admin")).json()
    response = portal.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "audience": "trading",
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
        },
    )
    assert response.status_code == 200


def test_bad_client_requests(portal, login):
    client = portal.post("/clients", json=_client_body(), headers=login("admin")).json()
    wrong = _token(portal, client["client_id"], "not-the-secret")
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_client"
    assert _token(portal, "no-such-client", "x").json()["error"]["code"] == "invalid_client"
    scope = _token(portal, client["client_id"], client["client_secret"], scope="trading:read credit:read")
    assert scope.status_code == 400 and scope.json()["error"]["code"] == "invalid_scope"
    audience = _token(portal, client["client_id"], client["client_secret"], audience="elsewhere")
    assert audience.json()["error"]["code"] == "invalid_audience"
    grant = portal.post(
        "/oauth/token",
        data={"grant_type": "password", "audience": "trading"},
        auth=(client["client_id"], client["client_secret"]),
    )
    assert grant.json()["error"]["code"] == "unsupported_grant_type"
    missing = portal.post("/oauth/token", data={"grant_type": "client_credentials", "audience": "trading"})
    assert missing.status_code == 401


def test_rotate_and_disable(portal, login, session):
    admin = login("admin")
    client = portal.post("/clients", json=_client_body(), headers=admin).json()
    rotated = portal.post(f"/clients/{client['client_id']}/rotate-secret", headers=admin)
    assert rotated.status_code == 200
    assert _token(portal, client["client_id"], client["client_secret"]).status_code == 401
    assert _token(portal, client["client_id"], rotated.json()["client_secret"]).status_code == 200
    disabled = portal.post(f"/clients/{client['client_id']}/disable", headers=admin)
    assert disabled.json()["disabled"] is True
    assert _token(portal, client["client_id"], rotated.json()["client_secret"]).status_code == 401
    revoked = {r["sub"] for r in portal.get("/.well-known/revocations").json()["revoked"]}
    assert client["client_id"] in revoked
    actions = [
        e.action
        for e in session.scalars(
            select(OutboxEvent).where(OutboxEvent.object_id == client["client_id"]).order_by(OutboxEvent.id)
        )
    ]
    assert actions == ["client.created", "client.secret_rotated", "client.disabled"]


def test_client_validation(portal, login):
    admin = login("admin")
    assert portal.post("/clients", json=_client_body(scopes=["root"]), headers=admin).status_code == 422
    assert portal.post("/clients", json=_client_body(client_id="A B"), headers=admin).status_code == 422
    assert portal.post("/clients", json=_client_body(kind="robot"), headers=admin).status_code == 422
    body = _client_body()
    assert portal.post("/clients", json=body, headers=admin).status_code == 201
    assert portal.post("/clients", json=body, headers=admin).json()["error"]["code"] == "client_exists"


def test_client_roles_and_counties(portal, login):
    for role in ("operator", "supervisor", "bidder"):
        assert portal.post("/clients", json=_client_body(), headers=login(role)).status_code == 403
    county_admin = login("admin", platform="gaoping")
    service_kind = portal.post("/clients", json=_client_body(kind="service"), headers=county_admin)
    assert service_kind.status_code == 403 and service_kind.json()["error"]["code"] == "city_only"
    foreign = portal.post("/clients", json=_client_body(platform="qinshui"), headers=county_admin)
    assert foreign.status_code == 403 and foreign.json()["error"]["code"] == "forbidden_platform"
    city_client = portal.post("/clients", json=_client_body(platform="qinshui"), headers=login("admin")).json()
    cid = city_client["client_id"]
    assert portal.get(f"/clients/{cid}", headers=county_admin).status_code == 404
    assert portal.post(f"/clients/{cid}/disable", headers=county_admin).status_code == 404
    assert portal.post(f"/clients/{cid}/rotate-secret", headers=county_admin).status_code == 404
    assert portal.get(f"/clients/{cid}", headers=login("admin", platform="qinshui")).status_code == 200
    assert portal.get(f"/clients/{cid}", headers=login("operator")).status_code == 403
