"""Signing keys: JWKS, rotation that keeps retired keys published, and who may rotate."""

from __future__ import annotations

from datetime import timedelta

from jose import jwt
from sqlalchemy import select

from services.portal.keys.models import SigningKey
from services.portal.keys.service import RETIRED_KEY_GRACE


def test_jwks_publishes_the_active_key(portal, login):
    token = login("bidder")["Authorization"].split()[1]
    kid = jwt.get_unverified_header(token)["kid"]
    keys = portal.get("/.well-known/jwks.json").json()["keys"]
    assert kid in {k["kid"] for k in keys}
    assert all(k["kty"] == "EC" and k["crv"] == "P-256" and "d" not in k for k in keys)


def test_rotation_keeps_old_tokens_valid(portal, login, session):
    admin = login("admin")
    old_kid = jwt.get_unverified_header(admin["Authorization"].split()[1])["kid"]
    rotated = portal.post("/keys/rotate", headers=admin)
    assert rotated.status_code == 200, rotated.text
    new_kid = rotated.json()["kid"]
    assert new_kid != old_kid and old_kid in rotated.json()["retired"]
    published = {k["kid"] for k in portal.get("/.well-known/jwks.json").json()["keys"]}
    assert {old_kid, new_kid} <= published
    assert portal.get("/me", headers=admin).status_code == 200  # signed by the retired key
    fresh = login("bidder")
    assert jwt.get_unverified_header(fresh["Authorization"].split()[1])["kid"] == new_kid
    # Once every token of the retired key has expired, the key leaves the JWKS.
    old = session.get(SigningKey, old_kid)
    old.retired_at = old.retired_at - RETIRED_KEY_GRACE - timedelta(seconds=1)
    session.flush()
    assert old_kid not in {k["kid"] for k in portal.get("/.well-known/jwks.json").json()["keys"]}


def test_private_keys_are_encrypted_at_rest(portal, login, session):
    login("bidder")
    for key in session.scalars(select(SigningKey)):
        assert "ENCRYPTED PRIVATE KEY" in key.private_pem


def test_only_city_admins_rotate(portal, login):
    assert portal.post("/keys/rotate", headers=login("operator")).json()["error"]["code"] == "forbidden_role"
    county = portal.post("/keys/rotate", headers=login("admin", platform="yangcheng"))
    assert county.status_code == 403 and county.json()["error"]["code"] == "city_only"
    assert portal.post("/keys/rotate").status_code == 401
