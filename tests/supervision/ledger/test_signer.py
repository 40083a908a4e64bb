"""The background signer: a tree head at least every interval while the ledger grows, none otherwise.

It commits on its own, outside any request, so these tests use a database of their own.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from services.supervision.ledger.models import LedgerLeaf, LedgerTreeHead
from services.supervision.ledger.signer import TreeHeadSigner
from services.supervision.settings import DEV_LEDGER_SIGNING_KEY
from shared.db import make_session_factory
from shared.ed25519_keys import signing_key
from tests.supervision.events import make_event
from tests.supervision.ledger.conftest import relay_headers, supervision_app
from tools import migrate


@pytest.fixture(scope="module")
def signer_db(database_server):
    name = f"jincheng_signer_{uuid.uuid4().hex[:8]}"
    url = database_server.create(name)
    migrate.upgrade_all(url, services=("supervision",))
    engine = create_engine(url)
    yield engine
    engine.dispose()
    database_server.drop(name)


def ledger_size(engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(LedgerLeaf)) or 0


def heads(engine) -> list[LedgerTreeHead]:
    with Session(engine) as session:
        return list(session.scalars(select(LedgerTreeHead).order_by(LedgerTreeHead.id)))


def ingest(client, issuer, source: str, seqs) -> None:
    events = [make_event(source, n) for n in seqs]
    response = client.post("/ingest/events", json={"events": events}, headers=relay_headers(issuer, source))
    assert response.status_code == 200, response.text


def test_sign_once_signs_only_when_the_ledger_grew(signer_db, issuer):
    signer = TreeHeadSigner(make_session_factory(signer_db), signing_key(DEV_LEDGER_SIGNING_KEY), interval=60)
    assert signer.sign_once() is None  # an empty ledger: nothing to sign
    with supervision_app(signer_db, issuer) as client:
        ingest(client, issuer, "trading", range(1, 4))
        first = signer.sign_once()
        assert first is not None and first.tree_size == 3
        assert signer.sign_once() is None  # unchanged since
        ingest(client, issuer, "trading", range(4, 6))
    second = signer.sign_once()
    assert second is not None and second.tree_size == 5 and second.timestamp > first.timestamp


def test_the_app_signs_in_the_background_and_stops_with_it(signer_db, issuer):
    before = len(heads(signer_db))
    with supervision_app(signer_db, issuer, ledger_signer_enabled=True, ledger_sign_interval_seconds=0.05) as client:
        assert any(t.name == "ledger-tree-head-signer" for t in threading.enumerate())
        ingest(client, issuer, "portal", range(1, 5))
        size = ledger_size(signer_db)
        deadline = time.monotonic() + 10
        while (not heads(signer_db) or heads(signer_db)[-1].tree_size < size) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert heads(signer_db)[-1].tree_size == size
        signed = len(heads(signer_db))
        time.sleep(0.3)  # six intervals without growth
        assert len(heads(signer_db)) == signed
    assert signed > before
    assert not any(t.name == "ledger-tree-head-signer" for t in threading.enumerate())


def test_a_failed_round_is_logged_and_the_signer_keeps_going(caplog):
    calls = []

    def broken_sessions() -> Session:
        calls.append(1)
        raise RuntimeError("database unavailable")

    signer = TreeHeadSigner(broken_sessions, signing_key(DEV_LEDGER_SIGNING_KEY), interval=0.01)
    with caplog.at_level(logging.ERROR, logger="services.supervision.ledger.signer"):
        signer.start()
        deadline = time.monotonic() + 5
        while len(calls) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        signer.stop()
    assert len(calls) >= 3
    assert "signing a ledger tree head failed" in caplog.text
