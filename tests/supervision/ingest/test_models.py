"""supervision.audit_events is evidence: the database itself refuses UPDATE, DELETE and TRUNCATE."""

from __future__ import annotations

import psycopg.errors
import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from tests.supervision.events import make_event


@pytest.fixture
def ledger(ingest, stored) -> list[dict]:
    response = ingest([make_event(seq=1), make_event(seq=2)])
    assert response.status_code == 200, response.text
    return list(stored())


def _refused(connection: Connection, statement: str, operation: str) -> None:
    with pytest.raises(DBAPIError) as caught, connection.begin_nested():
        connection.execute(text(statement))
    assert isinstance(caught.value.orig, psycopg.errors.InsufficientPrivilege), caught.value
    assert f"append-only ({operation} refused)" in str(caught.value.orig)


@pytest.mark.parametrize(
    ("statement", "operation"),
    [
        ("update supervision.audit_events set action = 'tampered' where delivery_seq = 1", "UPDATE"),
        ("update supervision.audit_events set change = '{}'::jsonb", "UPDATE"),
        ("delete from supervision.audit_events where delivery_seq = 2", "DELETE"),
        ("delete from supervision.audit_events", "DELETE"),
        ("truncate supervision.audit_events cascade", "TRUNCATE"),
    ],
)
def test_stored_events_cannot_be_changed_or_removed(connection, ledger, stored, statement, operation):
    _refused(connection, statement, operation)
    # the savepoint rolled back; the outer transaction is usable and the ledger is intact
    assert stored() == ledger


def test_appending_is_still_allowed(connection, ledger, stored, ingest):
    assert ingest([make_event(seq=3)]).status_code == 200
    assert [r["delivery_seq"] for r in stored()] == [1, 2, 3]
    assert stored()[:2] == ledger
