"""A success answer must mean the change is stored: the request's transaction commits before the response.

With FastAPI's default scope ("request") for a yield dependency, ``get_session``'s commit ran after
the response had been sent: the client was told 201 before the commit, a read right after it could
miss the write, and a commit that then failed was reported as a success. ``shared.db.DbSession``
(``scope="function"``) fixes that; this guards it. The commit is made to fail deterministically by a
deferred constraint trigger, installed only in this session's database and only for marked venue names.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import text

from tests.e2e.conftest import Platform

MARKER = "e2e-commit-fails-"

INSTALL = [
    f"""
    create function trading.e2e_fail_at_commit() returns trigger language plpgsql as $$
    begin
        if new.name like '{MARKER}%' then
            raise exception 'e2e: this commit is refused on purpose';
        end if;
        return null;
    end $$
    """,
    """
    create constraint trigger e2e_fail_at_commit after insert on trading.venues
    deferrable initially deferred for each row execute function trading.e2e_fail_at_commit()
    """,
]
UNINSTALL = [
    "drop trigger if exists e2e_fail_at_commit on trading.venues",
    "drop function if exists trading.e2e_fail_at_commit()",
]


@pytest.mark.e2e
def test_a_failed_commit_is_not_answered_as_success(platform: Platform) -> None:
    operator = platform.login("demo-operator")
    name = f"{MARKER}{uuid.uuid4().hex[:8]}"
    with platform.engine.begin() as conn:
        for statement in INSTALL:
            conn.execute(text(statement))
    try:
        # A client of its own, so a connection the server drops after a fault cannot affect other tests.
        with httpx.Client(timeout=10.0) as http:
            response = http.post(
                platform.url("trading", "/venues"),
                headers=operator,
                json={"name": name, "kind": "opening_hall", "location": "晋城市测试路 9 号", "capacity": 5},
            )
        with platform.engine.connect() as conn:
            stored = conn.execute(text("select count(*) from trading.venues where name = :n"), {"n": name})
            assert stored.scalar_one() == 0, "the deferred trigger should have refused this commit"
        assert response.status_code == 500, f"answered {response.status_code} for a change that was not stored"
        assert response.json()["error"]["code"] == "internal_error"
    finally:
        with platform.engine.begin() as conn:
            for statement in UNINSTALL:
                conn.execute(text(statement))
