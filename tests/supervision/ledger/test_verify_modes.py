"""The ways a verification runs reach the same verdict: fast path or detailed checks, leaf hashes in
the main process or in helper processes; and the fast path's tree is the RFC 6962 tree.

(``test_tamper`` compares the fast path with the detailed checks on every kind of tampering.)
"""

from __future__ import annotations

import hashlib
from typing import ClassVar
from unittest.mock import patch

import pytest

from services.supervision.ledger import fast_pass, leaf_hashes, merkle
from services.supervision.ledger import verify as verify_module
from services.supervision.ledger.verify import verify_database, verify_ledger
from tests.supervision.events import make_event
from tests.supervision.ledger.test_tamper import event_at, same_report


@pytest.mark.parametrize("size", [*range(0, 40), 63, 64, 65, 127, 128, 129])
def test_the_fast_paths_tree_is_merkle_frontier(size):
    leaves = [hashlib.sha256(n.to_bytes(8, "big")).digest() for n in range(size)]
    tree, frontier = fast_pass.Tree(), merkle.Frontier()
    for leaf in leaves:
        assert tree.append(leaf) == [(level, index, node) for (level, index), node in frontier.append(leaf)]
    assert tree.size == frontier.size == size
    assert tree.root() == frontier.root() == merkle.merkle_tree_hash(leaves)


def test_an_intact_ledger_is_confirmed_by_the_fast_path_alone(ledger_db, ledger_public_key):
    """Every run passes the fast path: no leaf needs the detailed checks (the speed depends on it)."""
    outcomes: list[bool] = []
    check_run = fast_pass.check_run

    def spy(*args):
        run = check_run(*args)
        outcomes.append(run is not None)
        return run

    with patch.object(verify_module, "LEAF_BATCH", 7), patch.object(fast_pass, "check_run", spy):
        assert verify_database(ledger_db, ledger_public_key).ok
    assert len(outcomes) > 125 // 7 and all(outcomes)


class SpyHasher(leaf_hashes.LeafHasher):
    used_helpers: ClassVar[list[bool]] = []

    def __enter__(self):
        SpyHasher.used_helpers.append(self.in_helpers)
        return super().__enter__()


@pytest.fixture
def in_helpers():
    """Verifications hash leaves in helper processes, in batches of 16 leaves (several jobs each)."""
    SpyHasher.used_helpers = []
    with (
        patch.object(leaf_hashes, "HELPERS_FROM", 0),
        patch.object(leaf_hashes, "_cores", lambda: 2),
        patch.object(verify_module, "LEAF_BATCH", 16),
        patch.object(verify_module, "LeafHasher", SpyHasher),
    ):
        yield SpyHasher.used_helpers


def test_helper_processes_reach_the_same_verdicts(ledger_db, as_superuser, ledger_public_key, in_helpers):
    intact = verify_database(ledger_db, ledger_public_key)
    assert intact.ok and intact.leaves == 125
    row_id, _ = event_at(ledger_db, 37)
    as_superuser("update supervision.audit_events set actor = 'x' where id = :id", {"id": row_id},
                 tables=("audit_events",))  # fmt: skip
    as_superuser("delete from supervision.ledger_leaves where leaf_index = 90", tables=("ledger_leaves",))
    tampered = verify_database(ledger_db, ledger_public_key)
    assert {"content_changed", "leaf_missing"} <= tampered.kinds()
    assert in_helpers == [True, True]
    with patch.object(leaf_hashes, "HELPERS_FROM", 10**9), patch.object(fast_pass, "check_run", lambda *_: None):
        assert same_report(verify_database(ledger_db, ledger_public_key), tampered)


def test_helpers_are_not_used_where_they_would_see_other_rows(ingest, session, ledger_public_key, in_helpers):
    """This session's rows are uncommitted (the test's transaction): helpers on other connections
    would not see them, so the leaves are hashed in the main process."""
    assert ingest([make_event("trading", n) for n in range(1, 40)]).status_code == 200
    report = verify_ledger(session, ledger_public_key)
    assert report.ok and report.leaves == 39
    assert in_helpers == [False]
