"""Refusals over real HTTP, on real portal tokens: missing token, wrong audience, wrong token type,
and a disabled client whose unexpired token stops working within seconds everywhere."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.audit.outbox import change_digest
from tests.e2e.conftest import Platform
from tests.e2e.helpers import bearer, wait_for

# One endpoint per service that any supervisor may read, so only the token decides the answer.
READS = {
    "portal": "/me",
    "trading": "/venues",
    "expert_pool": "/specialties",
    "supervision": "/audit/events",
}


@pytest.mark.e2e
@pytest.mark.parametrize("service", list(READS))
def test_no_token_is_401_with_the_error_body(platform: Platform, service: str) -> None:
    response = platform.http.get(platform.url(service, READS[service]))
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == "unauthenticated"
    assert body["error"]["message"]


@pytest.mark.e2e
def test_token_is_refused_by_services_outside_its_audience(platform: Platform) -> None:
    everywhere = platform.login("demo-supervisor")
    portal_only = platform.login("demo-supervisor", audience=["portal"])
    assert platform.http.get(platform.url("portal", "/me"), headers=portal_only).status_code == 200
    for service in ("trading", "expert_pool", "supervision"):
        url = platform.url(service, READS[service])
        assert platform.http.get(url, headers=everywhere).status_code == 200, service
        refused = platform.http.get(url, headers=portal_only)
        assert refused.status_code == 401, f"{service}: {refused.status_code} {refused.text}"
        assert refused.json()["error"]["code"] == "invalid_token"
        assert refused.json()["error"]["details"]["reason"].startswith("claims"), refused.text


@pytest.mark.e2e
def test_user_token_cannot_ingest_audit_events(platform: Platform) -> None:
    admin = platform.login("demo-admin")
    # A well-formed batch, so only the token type can be the reason for the refusal.
    event = {
        "event_id": str(uuid.uuid4()),
        "source": "trading",
        "delivery_seq": 1,
        "occurred_at": datetime.now(UTC).isoformat(),
        "actor_role": "admin",
        "action": "venue.created",
        "object_type": "venue",
        "object_id": str(uuid.uuid4()),
        "change": {},
        "digest": change_digest({}),
    }
    response = platform.http.post(
        platform.url("supervision", "/ingest/events"), headers=admin, json={"events": [event]}
    )
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "wrong_token_type"
    assert response.json()["error"]["details"] == {"required": "service", "got": "user"}


@pytest.mark.e2e
def test_disabled_client_token_is_refused_within_seconds(platform: Platform) -> None:
    http = platform.http
    admin = platform.login("demo-admin")
    client_id = f"e2e-int-{uuid.uuid4().hex[:8]}"
    created = http.post(
        platform.url("portal", "/clients"),
        headers=admin,
        json={
            "client_id": client_id,
            "name": "端到端集成客户端",
            "kind": "integration",
            "scopes": ["trading:read"],
            "platform": "jincheng",
        },
    )
    assert created.status_code == 201, created.text
    secret = created.json()["client_secret"]

    def grant() -> tuple[int, dict[str, Any]]:
        response = http.post(
            platform.url("portal", "/oauth/token"),
            auth=(client_id, secret),
            data={"grant_type": "client_credentials", "audience": "trading"},
        )
        return response.status_code, response.json()

    status, token = grant()
    assert status == 200, token
    client_token = bearer(str(token["access_token"]))
    venues = platform.url("trading", "/venues")
    assert http.get(venues, headers=client_token).status_code == 200

    disabled = http.post(platform.url("portal", f"/clients/{client_id}/disable"), headers=admin)
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["disabled"] is True

    def refused() -> dict[str, Any] | None:
        response = http.get(venues, headers=client_token)
        assert response.status_code in (200, 401), response.text
        return response.json()["error"] if response.status_code == 401 else None

    error = wait_for(refused, what="trading to refuse the disabled client's token", timeout=10.0)
    assert error["code"] == "invalid_token"
    assert error["details"] == {"reason": "revoked"}
    # It stays refused, and the client cannot get a new token either.
    assert http.get(venues, headers=client_token).status_code == 401
    status, body = grant()
    assert status == 401
    assert body["error"]["code"] == "invalid_client"
