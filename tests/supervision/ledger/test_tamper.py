"""Tampering with committed ledger data as a database superuser: each kind is detected and located.

The template ledger (conftest): leaves 0..39 trading 1..40, 40..64 portal 1..25, 65..94 trading
41..70, 95..124 expert_pool 1..30, with a signed tree head after each batch (sizes 40, 65, 95, 125).
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from unittest.mock import patch

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, select, text

from services.supervision.ingest.models import StoredEvent
from services.supervision.ledger import fast_pass, merkle, tree_heads
from services.supervision.ledger import verify as verify_module
from services.supervision.ledger.leaf_data import WIRE_COLUMNS, leaf_data
from services.supervision.ledger.models import LedgerLeaf
from services.supervision.ledger.verify import Report, verify_database
from tests.supervision.ledger.conftest import saved_head


def event_at(engine: Engine, leaf_index: int) -> tuple[int, str]:
    """(audit_events id, event id) of the event a leaf covers."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "select e.id, e.event_id from supervision.ledger_leaves l "
                "join supervision.audit_events e on e.id = l.audit_event_id where l.leaf_index = :i"
            ),
            {"i": leaf_index},
        ).one()
    return row.id, str(row.event_id)


def verify(engine: Engine, key, saved=None) -> Report:
    """Verify, and check that the fast path changed nothing: the same report with every leaf walked by
    the detailed checks, and with runs of three leaves (fast and detailed runs alternating)."""
    report = verify_database(engine, key, saved)
    print(report.render())  # noqa: T201 - pytest shows it when the test fails
    with patch.object(fast_pass, "check_run", lambda *_: None):
        assert same_report(verify_database(engine, key, saved), report), "the detailed checks alone differ"
    with patch.object(verify_module, "LEAF_BATCH", 3):
        assert same_report(verify_database(engine, key, saved), report), "runs of three leaves differ"
    return report


def same_report(one: Report, other: Report) -> bool:
    return (one.render(), one.problems, one.kind_counts) == (other.render(), other.problems, other.kind_counts)


def first(report: Report):
    assert not report.ok
    problem = report.first_problem
    assert problem is not None
    return problem


def test_the_untouched_ledger_verifies(ledger_db, ledger_template, ledger_public_key):
    report = verify(ledger_db, ledger_public_key, saved_head(ledger_template, 65))
    assert report.ok
    assert (report.leaves, report.events, report.tree_heads) == (125, 125, 4)
    assert report.nodes == 125 - (125).bit_count()
    assert report.root_hash.hex() == ledger_template.saved[125]["root_hash"]
    assert "OK: 125 leaves" in report.render() and "extends the saved tree head of size 65" in report.render()


def test_altered_content_is_located_at_its_leaf(ledger_db, as_superuser, ledger_public_key):
    row_id, event_id = event_at(ledger_db, 37)
    as_superuser(
        "update supervision.audit_events set actor = 'someone-else' where id = :id",
        {"id": row_id},
        tables=("audit_events",),
    )
    report = verify(ledger_db, ledger_public_key)
    problem = first(report)
    assert (problem.kind, problem.leaf_index, problem.event_id) == ("content_changed", 37, event_id)
    # every signed head from then on disagrees, and the earliest one brackets the change
    assert {p.tree_head_id for p in report.problems if p.kind == "tree_head_root_mismatch"} == {1, 2, 3, 4}
    [bracket] = [p for p in report.problems if p.kind == "rewritten_between"]
    assert "leaves 0..39" in bracket.message
    assert f"first: [content_changed] leaf 37, event {event_id}" in report.render()


def test_a_row_deleted_in_the_middle_is_located(ledger_db, as_superuser, ledger_public_key):
    row_id, _ = event_at(ledger_db, 50)
    as_superuser("delete from supervision.ledger_leaves where leaf_index = 50", tables=("ledger_leaves",))
    as_superuser("delete from supervision.audit_events where id = :id", {"id": row_id}, tables=("audit_events",))
    report = verify(ledger_db, ledger_public_key)
    problem = first(report)
    assert (problem.kind, problem.leaf_index) == ("leaf_missing", 50)
    assert "leaf 50 missing (deleted)" in problem.message
    kinds_at_51 = {p.kind for p in report.problems if p.leaf_index == 51}
    assert kinds_at_51 == {"chain_broken", "sequence_out_of_order"}  # portal 12 follows 10


def test_a_deleted_leaf_alone_leaves_its_event_uncovered(ledger_db, as_superuser, ledger_public_key):
    _, event_id = event_at(ledger_db, 50)
    as_superuser("delete from supervision.ledger_leaves where leaf_index = 50", tables=("ledger_leaves",))
    report = verify(ledger_db, ledger_public_key)
    assert (first(report).kind, first(report).leaf_index) == ("leaf_missing", 50)
    [uncovered] = [p for p in report.problems if p.kind == "event_not_in_ledger"]
    assert uncovered.event_id == event_id


def test_a_deleted_event_row_alone_is_located_at_its_leaf(ledger_db, as_superuser, ledger_public_key):
    row_id, _ = event_at(ledger_db, 50)
    as_superuser("delete from supervision.audit_events where id = :id", {"id": row_id}, tables=("audit_events",))
    problem = first(verify(ledger_db, ledger_public_key))
    assert (problem.kind, problem.leaf_index) == ("event_missing", 50)
    assert f"audit_events id {row_id}" in problem.message


def delete_tail(as_superuser, keep: int, *, nodes: bool = True, heads: bool = True) -> None:
    """Remove every leaf from ``keep`` on with its event (and, if asked, its nodes and tree heads)."""
    as_superuser(
        "delete from supervision.audit_events where id in "
        "(select audit_event_id from supervision.ledger_leaves where leaf_index >= :k)",
        {"k": keep},
        tables=("audit_events", "ledger_leaves"),
    )
    as_superuser("delete from supervision.ledger_leaves where leaf_index >= :k", {"k": keep}, tables=("ledger_leaves",))
    if nodes:
        as_superuser(
            'delete from supervision.ledger_nodes where ("index" + 1) << level > :k',
            {"k": keep},
            tables=("ledger_nodes",),
        )
    if heads:
        as_superuser(
            "delete from supervision.ledger_tree_heads where tree_size > :k", {"k": keep}, tables=("ledger_tree_heads",)
        )


def test_trailing_rows_deleted_are_caught_by_a_saved_tree_head(
    ledger_db, ledger_template, as_superuser, ledger_public_key
):
    delete_tail(as_superuser, 100)
    # A careful truncation leaves a ledger that is consistent in itself …
    assert verify(ledger_db, ledger_public_key).ok
    # … but not with the tree head a supervisor saved before.
    report = verify(ledger_db, ledger_public_key, saved_head(ledger_template, 125))
    problem = first(report)
    assert (problem.kind, problem.leaf_index) == ("saved_tree_head_beyond_ledger", 100)
    assert "leaves 100..124 removed" in problem.message
    # An older saved head is still extended by what is left.
    assert verify(ledger_db, ledger_public_key, saved_head(ledger_template, 95)).ok


def test_trailing_rows_deleted_carelessly_are_caught_without_a_saved_head(ledger_db, as_superuser, ledger_public_key):
    delete_tail(as_superuser, 100, nodes=False, heads=False)
    report = verify(ledger_db, ledger_public_key)
    problem = first(report)
    assert (problem.kind, problem.leaf_index) == ("unexpected_node", 100)
    [beyond] = [p for p in report.problems if p.kind == "tree_head_beyond_ledger"]
    assert (beyond.tree_head_id, beyond.leaf_index) == (4, 100)


def test_a_row_inserted_in_the_middle_is_located(ledger_db, as_superuser, ledger_public_key):
    """A forged event slipped in at leaf 60, later leaves shifted up, its own chain link made right."""
    forged_id = uuid.uuid4()
    as_superuser(
        "insert into supervision.audit_events (event_id, source, delivery_seq, occurred_at, actor_role, action,"
        " object_type, object_id, change, digest, platform) values (:e, 'trading', 71, now(), 'operator',"
        " 'bid.withdrawn', 'bid', 'b-1', '{}', :d, 'jincheng')",
        {"e": forged_id, "d": "0" * 64},
    )
    with ledger_db.begin() as conn:
        row = (
            conn.execute(select(StoredEvent.id, *WIRE_COLUMNS).where(StoredEvent.event_id == forged_id))
            .mappings()
            .one()
        )
        chain_59 = conn.execute(text("select chain_hash from supervision.ledger_leaves where leaf_index = 59")).scalar()
    leaf = merkle.leaf_hash(leaf_data(row))
    as_superuser(
        [  # in two steps, as the primary key is checked row by row
            "update supervision.ledger_leaves set leaf_index = leaf_index + 1000000 where leaf_index >= 60",
            "update supervision.ledger_leaves set leaf_index = leaf_index - 999999 where leaf_index >= 1000000",
            "insert into supervision.ledger_leaves values (60, :id, :leaf, :chain)",
        ],
        {"id": row["id"], "leaf": leaf, "chain": merkle.chain_hash(chain_59, leaf)},
        tables=("ledger_leaves",),
    )
    report = verify(ledger_db, ledger_public_key)
    problem = first(report)
    assert (problem.kind, problem.leaf_index, problem.event_id) == ("sequence_out_of_order", 60, str(forged_id))
    assert any(p.kind == "chain_broken" and p.leaf_index == 61 for p in report.problems)


def test_an_event_inserted_behind_ingestion_is_located(ledger_db, as_superuser, ledger_public_key):
    forged_id = uuid.uuid4()
    as_superuser(
        "insert into supervision.audit_events (event_id, source, delivery_seq, occurred_at, actor_role, action,"
        " object_type, object_id, change, digest) values (:e, 'portal', 26, now(), 'admin', 'user.created',"
        " 'user', 'u-1', '{}', :d)",
        {"e": forged_id, "d": "0" * 64},
    )
    problem = first(verify(ledger_db, ledger_public_key))
    assert (problem.kind, problem.event_id) == ("event_not_in_ledger", str(forged_id))


def insert_head(engine: Engine, head: tree_heads.SignedTreeHead) -> int:
    with engine.begin() as conn:
        return conn.execute(
            text(
                "insert into supervision.ledger_tree_heads (tree_size, root_hash, chain_head, timestamp, key_id,"
                " signature) values (:n, :r, :c, :t, :k, :s) returning id"
            ),
            {"n": head.tree_size, "r": head.root_hash, "c": head.chain_head, "t": head.timestamp,
             "k": head.key_id, "s": head.signature},
        ).scalar_one()  # fmt: skip


def test_a_tree_head_forged_with_another_key_is_located(ledger_db, ledger_template, ledger_public_key):
    genuine = saved_head(ledger_template, 125)
    impostor = Ed25519PrivateKey.generate()
    # The right root and chain head, even, and the genuine key's id: only the signature is wrong.
    forged = tree_heads.sign(impostor, 125, genuine.root_hash, genuine.chain_head, genuine.timestamp)
    head_id = insert_head(ledger_db, replace(forged, key_id=genuine.key_id))
    report = verify(ledger_db, ledger_public_key)
    problem = first(report)
    assert (problem.kind, problem.tree_head_id) == ("tree_head_signature_invalid", head_id)
    assert report.problem_count == 1
    # the same forgery handed over as a "saved" tree head proves nothing either
    assert "saved_tree_head_signature_invalid" in verify(ledger_db, ledger_public_key, forged).kinds()


def test_a_forged_tree_head_claiming_more_leaves_is_only_a_forgery(ledger_db, ledger_public_key):
    """A head signed by someone else for 300 leaves says nothing about missing leaves 125..299."""
    forged = tree_heads.sign(Ed25519PrivateKey.generate(), 300, bytes(32), bytes(32), datetime.now(UTC))
    head_id = insert_head(ledger_db, forged)
    report = verify(ledger_db, ledger_public_key)
    assert [(p.kind, p.tree_head_id) for p in report.problems] == [("tree_head_signature_invalid", head_id)]
    assert f"claims key {forged.key_id}" in report.problems[0].message


def test_a_consistent_rewrite_is_caught_by_the_signed_tree_heads(ledger_db, as_superuser, ledger_public_key):
    """An attacker with the database but not the key rewrites leaf 70 and recomputes everything after."""
    row_id, _ = event_at(ledger_db, 70)
    as_superuser("update supervision.audit_events set object_id = 'v-forged' where id = :id", {"id": row_id},
                 tables=("audit_events",))  # fmt: skip
    with ledger_db.begin() as conn:
        rows = conn.execute(
            select(StoredEvent.id, *WIRE_COLUMNS)
            .join(LedgerLeaf, LedgerLeaf.audit_event_id == StoredEvent.id)
            .order_by(LedgerLeaf.leaf_index)
        ).mappings()
        frontier, chain = merkle.Frontier(), merkle.CHAIN_START
        leaves: list[dict] = []
        nodes: list[dict] = []
        for row in rows:
            leaf = merkle.leaf_hash(leaf_data(row))
            chain = merkle.chain_hash(chain, leaf)
            leaves.append({"i": frontier.size, "h": leaf, "c": chain})
            nodes.extend({"l": lv, "i": i, "h": h} for (lv, i), h in frontier.append(leaf))
        for table in ("ledger_leaves", "ledger_nodes"):
            conn.execute(text(f"alter table supervision.{table} disable trigger all"))
        conn.execute(text("update supervision.ledger_leaves set leaf_hash = :h, chain_hash = :c where leaf_index = :i"),
                     leaves)  # fmt: skip
        conn.execute(text("delete from supervision.ledger_nodes"))
        conn.execute(text('insert into supervision.ledger_nodes (level, "index", hash) values (:l, :i, :h)'), nodes)
        for table in ("ledger_leaves", "ledger_nodes"):
            conn.execute(text(f"alter table supervision.{table} enable trigger all"))
    report = verify(ledger_db, ledger_public_key)
    problem = first(report)
    assert (problem.kind, problem.tree_head_id) == ("tree_head_root_mismatch", 3)  # size 95, the first after 70
    assert {p.kind for p in report.problems} == {
        "tree_head_root_mismatch", "tree_head_chain_mismatch", "rewritten_between"
    }  # fmt: skip
    [bracket] = [p for p in report.problems if p.kind == "rewritten_between"]
    assert "leaves 65..94" in bracket.message
