"""Credit fixtures: record bodies, records created through the API, credit-reader tokens."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, text

from tests.supervision.credit.samples import record_body


@pytest.fixture
def create_record(supervision: TestClient, user) -> Callable[..., dict[str, Any]]:
    """``create_record("gaoping", ban_end=None, ...)``: a record made by that platform's supervisor."""

    def create(platform: str = "jincheng", **overrides: Any) -> dict[str, Any]:
        response = supervision.post(
            "/credit/records", json=record_body(**overrides), headers=user("supervisor", platform=platform)
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    return create


@pytest.fixture
def credit_reader(service) -> dict[str, str]:
    """Headers of trading's (or the expert pool's) machine token with scope ``credit:read``."""
    return service("credit:read", sub="svc-trading")


@pytest.fixture
def shanghai_today(connection: Connection) -> date:
    today = connection.execute(text("select (clock_timestamp() at time zone 'Asia/Shanghai')::date")).scalar_one()
    assert isinstance(today, date)
    return today


@pytest.fixture
def record_count(connection: Connection) -> Callable[[], int]:
    return lambda: int(connection.execute(text("select count(*) from supervision.credit_records")).scalar_one())
