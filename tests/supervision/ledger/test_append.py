"""Ingestion appends each newly stored event to the ledger, in the same transaction."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from services.supervision.ledger import merkle
from services.supervision.ledger.append import append_events
from services.supervision.ledger.leaf_data import WIRE_FIELDS
from services.supervision.ledger.store import root_at
from services.supervision.ledger.verify import verify_ledger
from shared.audit.outbox import canonical_json
from tests.supervision.events import make_event


@pytest.fixture
def ledger(connection):
    """``ledger()``: leaves joined with their events, in leaf order; ``ledger.nodes()``: the stored nodes."""

    def leaves() -> list[dict]:
        result = connection.execute(
            text(
                "select l.*, e.event_id from supervision.ledger_leaves l "
                "join supervision.audit_events e on e.id = l.audit_event_id order by l.leaf_index"
            )
        )
        return [dict(r) for r in result.mappings()]

    def nodes() -> dict[tuple[int, int], bytes]:
        result = connection.execute(text('select level, "index", hash from supervision.ledger_nodes'))
        return {(r.level, r.index): r.hash for r in result}

    leaves.nodes = nodes  # type: ignore[attr-defined]
    return leaves


def expected_leaf(sent: dict) -> bytes:
    """The leaf hash of an event as sent, from the definition alone (not the service's code)."""
    wire = {name: sent[name] for name in WIRE_FIELDS}
    wire["occurred_at"] = datetime.fromisoformat(sent["occurred_at"]).astimezone(UTC).isoformat()
    return hashlib.sha256(b"\x00" + canonical_json(wire)).digest()


def test_each_stored_event_becomes_the_next_leaf(ingest, ledger):
    batch = [
        make_event(seq=1, occurred_at="2026-11-29T17:05:00.123456+08:00"),  # stored and hashed as UTC
        make_event(seq=2, change={"金额": 1250000, "items": [1, {"b": None, "a": True}]}),
        make_event(seq=3, actor=None, actor_role="anonymous", change={}),
    ]
    assert ingest(batch).status_code == 200
    leaves = ledger()
    assert [leaf["leaf_index"] for leaf in leaves] == [0, 1, 2]
    assert [str(leaf["event_id"]) for leaf in leaves] == [e["event_id"] for e in batch]
    assert [leaf["leaf_hash"] for leaf in leaves] == [expected_leaf(e) for e in batch]
    chain = merkle.CHAIN_START
    for leaf in leaves:
        chain = hashlib.sha256(chain + leaf["leaf_hash"]).digest()
        assert leaf["chain_hash"] == chain


def test_leaf_indexes_are_global_and_dense_across_sources_and_batches(ingest, ledger, session):
    sent = []
    for source, seqs in (("trading", (1, 2, 3)), ("portal", (1,)), ("trading", (4, 5)), ("expert_pool", (1, 2))):
        batch = [make_event(source, n) for n in seqs]
        assert ingest(batch).status_code == 200
        sent.extend(batch)
    leaves = ledger()
    assert [leaf["leaf_index"] for leaf in leaves] == list(range(8))
    assert [str(leaf["event_id"]) for leaf in leaves] == [e["event_id"] for e in sent]
    hashes = [leaf["leaf_hash"] for leaf in leaves]
    assert root_at(session, 8) == merkle.merkle_tree_hash(hashes)
    assert root_at(session, 5) == merkle.merkle_tree_hash(hashes[:5])


def test_exactly_the_complete_subtrees_are_stored(ingest, ledger):
    for first in range(1, 24, 5):  # uneven batches: nodes complete across batch boundaries
        assert ingest([make_event(seq=n) for n in range(first, first + 5)]).status_code == 200
    hashes = [leaf["leaf_hash"] for leaf in ledger()]
    size = len(hashes)
    nodes = ledger.nodes()
    assert set(nodes) == {(lv, i) for lv in range(1, size.bit_length()) for i in range(size >> lv)}
    for (level, index), node in nodes.items():
        assert node == merkle.merkle_tree_hash(hashes[index << level : (index + 1) << level])


def test_duplicates_and_refused_batches_append_nothing(ingest, ledger):
    batch = [make_event(seq=1), make_event(seq=2)]
    assert ingest(batch).status_code == 200
    assert ingest(batch).json()["duplicates"] == 2
    assert ingest([*batch, make_event(seq=3)]).json() == {"accepted": 1, "duplicates": 2, "last_delivery_seq": 3}
    assert ingest([make_event(seq=9)]).status_code == 409  # sequence gap: nothing stored, nothing appended
    assert [leaf["leaf_index"] for leaf in ledger()] == [0, 1, 2]


def test_the_ledger_built_by_ingestion_verifies(ingest, session, ledger_public_key):
    for source in ("trading", "portal"):
        assert ingest([make_event(source, n) for n in range(1, 12)]).status_code == 200
    report = verify_ledger(session, ledger_public_key)
    assert report.ok, report.render()
    assert (report.leaves, report.events, report.nodes) == (22, 22, 22 - (22).bit_count())


def test_appending_nothing_is_a_no_op(session):
    assert append_events(session, []) is None
