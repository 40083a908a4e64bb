"""Supervision fixtures: the app on the test transaction, tokens for it, audit events to ingest."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, text

from tests.support.service_fixtures import machine_headers, outbox_reader, person_headers
from tests.support.tokens import TestIssuer


@pytest.fixture
def supervision(make_client) -> TestClient:
    return make_client("supervision")


@pytest.fixture
def user(issuer: TestIssuer) -> Callable[..., dict[str, str]]:
    """``user("supervisor", platform="gaoping")``: headers of a person's token for supervision."""
    return person_headers(issuer, "supervision")


@pytest.fixture
def service(issuer: TestIssuer) -> Callable[..., dict[str, str]]:
    """``service("audit:ingest:trading")``: headers of a relay's machine token for supervision."""
    return machine_headers(issuer, "supervision", default_sub="relay-client")


@pytest.fixture
def stored(connection: Connection) -> Callable[..., list[dict[str, Any]]]:
    """Rows of ``supervision.audit_events`` (optionally of one source), in arrival order."""

    def rows(source: str | None = None) -> list[dict[str, Any]]:
        query = "select * from supervision.audit_events"
        if source is not None:
            query += " where source = :source"
        result = connection.execute(text(query + " order by id"), {"source": source})
        return [dict(r) for r in result.mappings()]

    return rows


@pytest.fixture
def outbox(connection: Connection) -> Callable[[], list[dict[str, Any]]]:
    """The rows this test's transaction wrote to ``supervision.audit_outbox``."""
    return outbox_reader(connection, "supervision")


@pytest.fixture
def ingest(supervision: TestClient, service: Callable[..., dict[str, str]]) -> Callable[..., Any]:
    """``ingest(events)``: post a batch with a token scoped for its first event's source."""

    def post(batch: list[dict[str, Any]], scope: str | None = None) -> Any:
        scope = scope if scope is not None else f"audit:ingest:{batch[0]['source']}"
        return supervision.post("/ingest/events", json={"events": batch}, headers=service(scope))

    return post
