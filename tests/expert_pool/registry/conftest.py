"""Registry fixtures: specialties stored straight in the test transaction (so only the request
under test is audited), and experts registered through the API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from tests.expert_pool.factories import add_specialty, expert_body

# Region codes of each platform, for registering experts where a test needs them.
REGIONS = {"jincheng": "140502", "gaoping": "140581", "yangcheng": "140522", "lingchuan": "140524", "qinshui": "140521"}


def count_rows(connection: Connection, table: str) -> int:
    return int(connection.execute(text(f"select count(*) from expert_pool.{table}")).scalar_one())  # noqa: S608


@pytest.fixture
def make_specialty(session: Session) -> Callable[..., str]:
    def build(code: str | None = None, *, active: bool = True) -> str:
        return add_specialty(session, code, active=active)

    return build


@pytest.fixture
def specialty(make_specialty) -> str:
    return make_specialty()


@pytest.fixture
def register(expert_pool, user, specialty) -> Callable[..., dict[str, Any]]:
    """``register("gaoping", n=3, **fields)``: an expert of that platform registered by its own
    operator through ``POST /experts``; the response body."""

    def build(platform: str = "jincheng", n: int | None = None, **overrides: Any) -> dict[str, Any]:
        body = expert_body([specialty], n, region=REGIONS[platform], **overrides)
        response = expert_pool.post("/experts", json=body, headers=user("operator", platform=platform))
        assert response.status_code == 201, response.text
        return dict(response.json())

    return build
