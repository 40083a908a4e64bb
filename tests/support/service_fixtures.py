"""Builders behind each service's test fixtures: tokens for one audience, its outbox, errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, text

from tests.support.tokens import TestIssuer

Headers = dict[str, str]
# What the router tests check of an outbox row (the relay's own columns are left out).
OUTBOX_COLUMNS = (
    "event_id, action, object_type, object_id, platform, actor, actor_role, organisation, change, digest, "
    "request_id, client_ip, user_agent, delivery_seq, delivered_at"
)


def person_headers(issuer: TestIssuer, audience: str) -> Callable[..., Headers]:
    """``user("operator", platform="gaoping", org=...)``: a person's token for ``audience``."""

    def build(*roles: str, platform: str = "jincheng", sub: str | None = None, org: str | None = None) -> Headers:
        return issuer.headers(
            sub=sub or f"{roles[0] if roles else 'nobody'}-{platform}",
            roles=list(roles),
            platform=platform,
            org=org,
            aud=audience,
            typ="user",
        )

    return build


def machine_headers(issuer: TestIssuer, audience: str, default_sub: str = "svc-client") -> Callable[..., Headers]:
    """``service("trading:read", platform="gaoping")``: a machine token for ``audience``."""

    def build(scope: str = "", platform: str = "jincheng", sub: str = default_sub) -> Headers:
        return issuer.headers(sub=sub, roles=[], platform=platform, aud=audience, typ="service", scope=scope)

    return build


def outbox_reader(connection: Connection, schema: str, columns: str = "*") -> Callable[[], list[dict[str, Any]]]:
    """The rows this test's transaction wrote to ``<schema>.audit_outbox``, oldest first."""

    def rows() -> list[dict[str, Any]]:
        result = connection.execute(
            text(
                f"select {columns} from {schema}.audit_outbox "  # noqa: S608 - our own schema and column list
                "where xid = (pg_current_xact_id()::text)::bigint order by id"
            )
        )
        return [dict(r) for r in result.mappings()]

    return rows


def check_error(response: Any, status: int, code: str) -> Any:
    """Assert the one error body, ``{"error": {"code", "message", "details"}}``; returns ``details``."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]["details"]
