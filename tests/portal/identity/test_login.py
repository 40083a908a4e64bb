"""Password login, lockout, refresh rotation and the claims of issued tokens."""

from __future__ import annotations

from jose import jwt
from sqlalchemy import select

from services.portal.db import OutboxEvent
from services.portal.identity.models import User
from services.portal.settings import MAX_USER_TOKEN_SECONDS
from tests.portal.conftest import PASSWORD


def _login(portal, username, password=PASSWORD, **extra):
    return portal.post("/auth/login", json={"username": username, "password": password, **extra})


def _actions(session, object_id):
    rows = session.scalars(select(OutboxEvent).where(OutboxEvent.object_id == str(object_id)).order_by(OutboxEvent.id))
    return [r.action for r in rows]


def test_login_issues_token_with_every_claim(portal, make_user, make_org):
    org = make_org("gaoping", "agency")
    user = make_user("agency", platform="gaoping", organisation_id=org.id)
    response = _login(portal, user.username)
    assert response.status_code == 200, response.text
    body = response.json()
    claims = jwt.get_unverified_claims(body["access_token"])
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "ES256" and header["kid"]
    assert claims["sub"] == str(user.id)
    assert claims["typ"] == "user"
    assert claims["roles"] == ["agency"]
    assert claims["platform"] == "gaoping"
    assert claims["org"] == str(org.id)
    assert sorted(claims["aud"]) == ["expert_pool", "portal", "supervision", "trading"]
    assert claims["iss"] == "jincheng-portal" and claims["jti"]
    assert 0 < claims["exp"] - claims["iat"] <= MAX_USER_TOKEN_SECONDS
    assert body["expires_in"] <= MAX_USER_TOKEN_SECONDS and body["refresh_token"]


def test_login_audience_can_be_narrowed(portal, make_user):
    user = make_user("bidder")
    token = _login(portal, user.username, audience=["trading"]).json()["access_token"]
    assert jwt.get_unverified_claims(token)["aud"] == "trading"
    assert _login(portal, user.username, audience=["nowhere"]).status_code == 422


def test_wrong_password_is_counted_and_audited(portal, make_user, session):
    user = make_user("bidder")
    response = _login(portal, user.username, "wrong-password!")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_credentials"
    session.expire_all()
    assert session.get(User, user.id).failed_logins == 1
    assert _actions(session, user.id) == ["login.failed"]


def test_unknown_user_gets_the_same_answer(portal):
    response = _login(portal, "nobody-here", "whatever-password")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_credentials"


def test_lockout_after_repeated_failures(portal, make_user, session):
    user = make_user("bidder")
    for _ in range(5):
        assert _login(portal, user.username, "wrong-password!").status_code == 401
    locked = _login(portal, user.username)  # even the right password is refused while locked
    assert locked.status_code == 423
    assert locked.json()["error"]["code"] == "account_locked"
    assert locked.json()["error"]["details"]["locked_until"]
    assert "login.refused_locked" in _actions(session, user.id)


def test_success_resets_failure_count(portal, make_user, session):
    user = make_user("bidder")
    for _ in range(4):
        _login(portal, user.username, "wrong-password!")
    assert _login(portal, user.username).status_code == 200
    session.expire_all()
    assert session.get(User, user.id).failed_logins == 0
    assert _actions(session, user.id)[-1] == "login.password"


def test_disabled_user_cannot_log_in(portal, make_user, login):
    user = make_user("bidder")
    admin = login("admin")
    assert portal.post(f"/users/{user.id}/disable", headers=admin).status_code == 200
    assert _login(portal, user.username).status_code == 401


def test_refresh_rotates_and_detects_reuse(portal, make_user):
    user = make_user("tenderee")
    first = _login(portal, user.username).json()
    second = portal.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200, second.text
    assert jwt.get_unverified_claims(second.json()["access_token"])["sub"] == str(user.id)
    # Presenting the used token again means it leaked: the whole family dies, the newer one too.
    reuse = portal.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reuse.status_code == 401
    assert reuse.json()["error"]["code"] == "invalid_refresh_token"
    newer = portal.post("/auth/refresh", json={"refresh_token": second.json()["refresh_token"]})
    assert newer.status_code == 401


def test_refresh_keeps_the_narrowed_audience(portal, make_user):
    user = make_user("bidder")
    first = _login(portal, user.username, audience=["trading"]).json()
    renewed = portal.post("/auth/refresh", json={"refresh_token": first["refresh_token"]}).json()
    assert jwt.get_unverified_claims(renewed["access_token"])["aud"] == "trading"


def test_refresh_rejects_garbage(portal):
    response = portal.post("/auth/refresh", json={"refresh_token": "not-a-token"})
    assert response.status_code == 401
    assert portal.post("/auth/refresh", json={"refresh_token": "x", "extra": 1}).status_code == 422


def test_tokens_of_a_disabled_user_stop_working(portal, make_user, login):
    user = make_user("bidder")
    token = _login(portal, user.username).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert portal.get("/me", headers=headers).status_code == 200
    portal.post(f"/users/{user.id}/disable", headers=login("admin"))
    revoked = portal.get("/.well-known/revocations").json()["revoked"]
    assert str(user.id) in {r["sub"] for r in revoked}
