"""Expert-pool fixtures: the app on the test transaction, tokens for it, and its audit outbox."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from tests.support.service_fixtures import OUTBOX_COLUMNS, machine_headers, outbox_reader, person_headers
from tests.support.tokens import TestIssuer


@pytest.fixture
def expert_pool(make_client) -> TestClient:
    return make_client("expert_pool")


@pytest.fixture
def user(issuer: TestIssuer) -> Callable[..., dict[str, str]]:
    """``user("operator", platform="gaoping")``: headers of a person's token for this service."""
    return person_headers(issuer, "expert_pool")


@pytest.fixture
def service(issuer: TestIssuer) -> Callable[..., dict[str, str]]:
    """``service("trading:read")``: headers of a machine token for this service."""
    return machine_headers(issuer, "expert_pool")


@pytest.fixture
def outbox(connection: Connection) -> Callable[[], list[dict[str, Any]]]:
    """The rows this test's transaction wrote to ``expert_pool.audit_outbox``, oldest first."""
    return outbox_reader(connection, "expert_pool", OUTBOX_COLUMNS)
