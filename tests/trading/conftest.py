"""Trading fixtures: the app on the test transaction, tokens for it, and its audit outbox."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, text

from tests.support.tokens import TestIssuer

OUTBOX_COLUMNS = (
    "event_id, action, object_type, object_id, platform, actor, actor_role, organisation, change, digest, "
    "request_id, client_ip, user_agent, delivery_seq, delivered_at"
)


@pytest.fixture
def trading(make_client) -> TestClient:
    return make_client("trading")


@pytest.fixture
def user(issuer: TestIssuer) -> Callable[..., dict[str, str]]:
    """``user("operator", platform="gaoping")``: headers of a person's token for trading."""

    def build(
        *roles: str, platform: str = "jincheng", sub: str | None = None, org: str | None = None
    ) -> dict[str, str]:
        return issuer.headers(
            sub=sub or f"{roles[0] if roles else 'nobody'}-{platform}",
            roles=list(roles),
            platform=platform,
            org=org,
            aud="trading",
            typ="user",
        )

    return build


@pytest.fixture
def service(issuer: TestIssuer) -> Callable[..., dict[str, str]]:
    """``service("trading:read")``: headers of a machine token for trading."""

    def build(scope: str = "", platform: str = "jincheng", sub: str = "svc-client") -> dict[str, str]:
        return issuer.headers(sub=sub, roles=[], platform=platform, aud="trading", typ="service", scope=scope)

    return build


@pytest.fixture
def outbox(connection: Connection) -> Callable[[], list[dict[str, Any]]]:
    """The rows this test's transaction wrote to ``trading.audit_outbox``, oldest first."""

    def rows() -> list[dict[str, Any]]:
        result = connection.execute(
            text(
                f"select {OUTBOX_COLUMNS} from trading.audit_outbox "  # noqa: S608 - constant column list
                "where xid = (pg_current_xact_id()::text)::bigint order by id"
            )
        )
        return [dict(r) for r in result.mappings()]

    return rows


@pytest.fixture
def expect_error() -> Callable[..., Any]:
    """Assert the one error body, ``{"error": {"code", "message", "details"}}``; returns ``details``."""

    def check(response: Any, status: int, code: str) -> Any:
        assert response.status_code == status, response.text
        body = response.json()
        assert set(body) == {"error"}, body
        assert set(body["error"]) == {"code", "message", "details"}, body
        assert body["error"]["code"] == code, body
        assert isinstance(body["error"]["message"], str) and body["error"]["message"]
        return body["error"]["details"]

    return check
