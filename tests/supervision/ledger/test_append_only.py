"""The ledger is append-only in the database, and the application role cannot switch that off."""

from __future__ import annotations

import psycopg.errors
import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from services.supervision.ingest.models import StoredEvent
from services.supervision.ledger.append import append_events
from services.supervision.ledger.tree_heads import sign_tree_head
from services.supervision.settings import DEV_LEDGER_SIGNING_KEY
from shared.contracts.audit import AuditEventIn
from shared.ed25519_keys import signing_key
from tests.supervision.events import make_event

LEDGER_TABLES = ("ledger_leaves", "ledger_nodes", "ledger_tree_heads")
PROTECTED = (*LEDGER_TABLES, "audit_events")
A_COLUMN = {
    "ledger_leaves": "leaf_hash",
    "ledger_nodes": "hash",
    "ledger_tree_heads": "signature",
    "audit_events": "action",
}
WRITER = "supervision_writer"


@pytest.fixture
def filled(ingest, supervision, user) -> None:
    assert ingest([make_event(seq=n) for n in range(1, 6)]).status_code == 200
    assert supervision.post("/ledger/tree-heads", headers=user("supervisor")).status_code == 201


def refused(connection: Connection, statement: str, *, role: str | None = None) -> psycopg.Error:
    """Run ``statement`` in a savepoint (as ``role`` if given); it must fail. Returns the error."""
    with pytest.raises(DBAPIError) as caught, connection.begin_nested():
        if role:
            connection.execute(text(f"set local role {role}"))  # undone with the savepoint
        connection.execute(text(statement))
    assert isinstance(caught.value.orig, psycopg.errors.InsufficientPrivilege), caught.value
    return caught.value.orig


CHANGES = [
    ("ledger_leaves", "update supervision.ledger_leaves set leaf_hash = chain_hash", "UPDATE"),
    ("ledger_leaves", "delete from supervision.ledger_leaves where leaf_index = 2", "DELETE"),
    ("ledger_nodes", "update supervision.ledger_nodes set hash = hash", "UPDATE"),
    ("ledger_nodes", "delete from supervision.ledger_nodes", "DELETE"),
    ("ledger_tree_heads", "update supervision.ledger_tree_heads set tree_size = 1", "UPDATE"),
    ("ledger_tree_heads", "delete from supervision.ledger_tree_heads", "DELETE"),
] + [(table, f"truncate supervision.{table}", "TRUNCATE") for table in LEDGER_TABLES]


@pytest.mark.parametrize(("table", "statement", "operation"), CHANGES)
def test_triggers_refuse_changes_even_to_the_owner(connection, filled, table, statement, operation):
    error = refused(connection, statement)
    assert f"supervision.{table} is append-only ({operation} refused)" in str(error)


def test_audit_events_cannot_be_truncated_out_from_under_the_ledger(connection, filled):
    # A plain TRUNCATE is stopped by the ledger's foreign key before any trigger runs…
    with pytest.raises(DBAPIError) as caught, connection.begin_nested():
        connection.execute(text("truncate supervision.audit_events"))
    assert isinstance(caught.value.orig, psycopg.errors.FeatureNotSupported)
    # …and with CASCADE the append-only triggers refuse it.
    error = refused(connection, "truncate supervision.audit_events cascade")
    assert "append-only (TRUNCATE refused)" in str(error)


@pytest.mark.parametrize("table", PROTECTED)
def test_the_writer_role_may_not_change_or_remove_rows(connection, filled, table):
    for statement in (
        f"update supervision.{table} set {A_COLUMN[table]} = {A_COLUMN[table]}",  # noqa: S608 - names are constants
        f"delete from supervision.{table}",  # noqa: S608 - names are constants
        f"truncate supervision.{table}",
    ):
        assert "permission denied" in str(refused(connection, statement, role=WRITER))


@pytest.mark.parametrize("table", PROTECTED)
@pytest.mark.parametrize("how", ["disable trigger all", "disable trigger user", "owner to supervision_writer"])
def test_the_writer_role_cannot_disable_the_triggers(connection, filled, table, how):
    error = refused(connection, f"alter table supervision.{table} {how}", role=WRITER)
    assert "must be owner" in str(error)


def test_the_writer_role_cannot_drop_the_triggers(connection, filled):
    error = refused(connection, "drop trigger ledger_leaves_append_only on supervision.ledger_leaves", role=WRITER)
    assert "must be owner" in str(error)


def test_the_writer_role_has_exactly_what_ingestion_and_signing_need(connection, session):
    """Store an event, append it and sign a tree head as supervision_writer: grants suffice."""
    connection.execute(text(f"set local role {WRITER}"))
    event = StoredEvent(**AuditEventIn(**make_event(seq=1)).model_dump())
    session.add(event)
    session.flush()
    assert append_events(session, [event.id]) is not None
    head = sign_tree_head(session, signing_key(DEV_LEDGER_SIGNING_KEY))
    assert head is not None and head.tree_size == 1
    connection.execute(text("reset role"))


def test_the_writer_role_is_nologin_and_limited(connection):
    role = connection.execute(
        text("select rolcanlogin, rolsuper from pg_roles where rolname = :r"), {"r": WRITER}
    ).one()
    assert role == (False, False)
    privileges = {
        (table, privilege): connection.execute(
            text("select has_table_privilege(:r, :t, :p)"), {"r": WRITER, "t": f"supervision.{table}", "p": privilege}
        ).scalar()
        for table in (*PROTECTED, "audit_outbox")
        for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "TRIGGER", "REFERENCES")
    }
    granted = {key for key, allowed in privileges.items() if allowed}
    assert granted == {(t, p) for t in PROTECTED for p in ("SELECT", "INSERT")}
