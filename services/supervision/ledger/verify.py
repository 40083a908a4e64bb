"""Full verification of the ledger against the stored events, and of a tree head saved earlier.

One pass over the leaves in index order (streamed, constant memory) recomputes each leaf hash from
its ``audit_events`` row, checks the hash chain link by link, rebuilds the tree incrementally and
compares every stored node as it completes, and checks every stored tree head's root and chain
head when the pass reaches its size. Then: events no leaf covers, tree head signatures, and the
saved tree head (its signature, and a consistency proof from it to the current tree).

Checks are local where they can be (a leaf against its own row, a chain link against its
predecessor), so one altered row is reported once, at its leaf, instead of as everything after it.

The pass goes run by run (the leaves up to the next tree head, at most a fetch batch): each run is
first tried on ``fast_pass``, which makes the same checks only to confirm that nothing is wrong,
and is walked leaf by leaf with the detailed checks below only when it finds something. The leaf
hashes recomputed from the events, most of the work, come from ``leaf_hashes`` (helper processes,
in the same snapshot, on a large ledger).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Generator, Iterator, Sequence
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from typing import Any, cast

import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import BigInteger, Engine, Select, func, literal_column, select, text
from sqlalchemy.orm import Session

from services.supervision.ingest.models import StoredEvent
from services.supervision.ledger import fast_pass, merkle
from services.supervision.ledger.fast_pass import LEAF_ROW_COLUMNS, LeafRow, Node
from services.supervision.ledger.leaf_hashes import LeafHasher
from services.supervision.ledger.models import LedgerLeaf, LedgerNode, LedgerTreeHead
from services.supervision.ledger.store import LedgerCorrupt, ledger_head, lookup
from services.supervision.ledger.tree_heads import SignedTreeHead
from shared.ed25519_keys import key_id

MAX_LISTED = 50  # problems kept in full; the rest are only counted
STREAM_BATCH = 5000
# Leaves per FETCH and per job for the leaf hashers: large, as each round trip waits on the
# server, but a few batches are held in memory. It also bounds a run of the fast path.
LEAF_BATCH = 20_000


@dataclass(frozen=True)
class Problem:
    kind: str
    message: str
    leaf_index: int | None = None
    event_id: str | None = None
    tree_head_id: int | None = None

    def render(self) -> str:
        where = []
        if self.leaf_index is not None:
            where.append(f"leaf {self.leaf_index}")
        if self.event_id is not None:
            where.append(f"event {self.event_id}")
        if self.tree_head_id is not None:
            where.append(f"tree head #{self.tree_head_id}")
        return f"[{self.kind}] {', '.join(where) + ': ' if where else ''}{self.message}"


@dataclass
class Report:
    leaves: int = 0
    events: int = 0
    nodes: int = 0
    tree_heads: int = 0
    root_hash: bytes = merkle.EMPTY_ROOT
    chain_head: bytes = merkle.CHAIN_START
    saved_tree_head: SignedTreeHead | None = None
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    kind_counts: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    @property
    def first_problem(self) -> Problem | None:
        """Problems are found in leaf order, so the first is the first bad leaf when there is one."""
        return self.problems[0] if self.problems else None

    def add(self, problem: Problem, *, times: int = 1) -> None:
        self.problem_count += times
        self.kind_counts[problem.kind] += times
        if len(self.problems) < MAX_LISTED:
            self.problems.append(problem)

    def kinds(self) -> set[str]:
        return set(self.kind_counts)

    def render(self) -> str:
        counts = (
            f"{self.leaves} leaves, {self.events} events, {self.nodes} stored nodes, "
            f"{self.tree_heads} signed tree heads"
        )
        if self.ok:
            lines = [
                f"OK: {counts}; every leaf, chain link, node, tree head root and signature verified",
                f"    tree size {self.leaves}, root {self.root_hash.hex()}, chain head {self.chain_head.hex()}",
            ]
            if self.saved_tree_head is not None:
                lines.append(
                    f"    the ledger extends the saved tree head of size {self.saved_tree_head.tree_size} "
                    "(signature and consistency proof verified)"
                )
            return "\n".join(lines)
        first = self.first_problem
        lines = [f"FAILED: {self.problem_count} problem(s) in the audit ledger ({counts})"]
        lines.append("by kind: " + ", ".join(f"{kind} {n}" for kind, n in self.kind_counts.most_common()))
        if first is not None:
            lines.append(f"first: {first.render()}")
        lines.extend(f"  - {p.render()}" for p in self.problems)
        if self.problem_count > len(self.problems):
            lines.append(f"  … and {self.problem_count - len(self.problems)} more")
        return "\n".join(lines)


def verify_database(engine: Engine, public_key: Ed25519PublicKey, saved: SignedTreeHead | None = None) -> Report:
    """Verify in one read-only snapshot, so concurrent ingestion cannot make the counts disagree.

    On a large ledger the leaf hashes are recomputed in helper processes (multiprocessing, spawn),
    which import the caller's main module: a script calling this needs ``if __name__ == "__main__"``.
    """
    with (
        engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection,
        connection.begin(),
        Session(bind=connection) as session,
    ):
        session.execute(text("set transaction read only"))
        # Sorting the nodes into completion order spills to disk with the default work_mem.
        session.execute(text("set local work_mem = '64MB'"))
        return verify_ledger(session, public_key, saved)


def verify_ledger(session: Session, public_key: Ed25519PublicKey, saved: SignedTreeHead | None = None) -> Report:
    report = Report(saved_tree_head=saved)
    report.events = session.scalar(select(func.count()).select_from(StoredEvent)) or 0
    saved_root = _walk_leaves(session, report, public_key)
    _check_uncovered_events(session, report)
    if saved is not None:
        _check_saved_tree_head(session, report, saved, public_key, saved_root)
    return report


@dataclass
class _Walk:
    """State of the pass over the leaves."""

    tree: fast_pass.Tree = field(default_factory=fast_pass.Tree)
    chain: bytes = merkle.CHAIN_START  # recomputed from the events' content
    stored_chain: bytes = merkle.CHAIN_START  # as stored, for the link-by-link check
    expected_index: int = 0
    gap_at: int | None = None  # first missing leaf: after it the tree's shape is undefined
    # Ingestion appends each source's events in delivery order without gaps (ADR 0002), so along
    # the leaves every source counts 1, 2, 3, ...: an insertion or removal shows at its own leaf.
    last_seq: dict[str, int] = field(default_factory=dict)
    # Signed sizes whose root still matches, up to the first that does not: brackets a rewrite
    # that left every local check intact (only the signatures can tell).
    last_good_size: int = 0
    first_bad_head: tuple[int, int] | None = None  # (tree size, tree head id)
    saved_size: int | None = None  # the saved tree head's, if one was given
    saved_root: bytes | None = None  # recomputed, once the pass reaches saved_size

    @property
    def clean(self) -> bool:
        """Whether the fast path's assumptions hold: no leaf index skipped, the chain recomputed from
        the events still the stored one. Once either fails, the rest is walked with the detailed checks."""
        return self.gap_at is None and self.chain == self.stored_chain


def _walk_leaves(session: Session, report: Report, public_key: Ed25519PublicKey) -> bytes | None:
    """The pass; returns the recomputed root at the saved tree head's size, if the ledger reaches it."""
    walk = _Walk(saved_size=report.saved_tree_head.tree_size if report.saved_tree_head else None)
    heads = _TreeHeadStream(session, public_key)
    with ExitStack() as streams:
        # Closed here, inside the transaction: left to the garbage collector, a server-side cursor
        # would be closed on whichever transaction the pooled connection serves by then.
        hasher = streams.enter_context(LeafHasher(session, ledger_head(session)[0]))
        nodes = _StoredNodes(streams.enter_context(closing(_node_batches(session))))
        leaves = streams.enter_context(closing(_leaf_batches(session)))
        _at_size(report, heads, walk)
        for batch, contents in hasher.paired(leaves):
            start = 0
            while start < len(batch):
                end = start + _run_length(walk, heads, len(batch) - start)
                _walk_run(report, walk, nodes, batch[start:end], contents[start:end])
                _at_size(report, heads, walk)
                start = end
        _walk_tail(report, walk, nodes, heads)
    return walk.saved_root


def _walk_tail(report: Report, walk: _Walk, nodes: _StoredNodes, heads: _TreeHeadStream) -> None:
    """After the last leaf: stored nodes and tree heads beyond it, the bracket of a rewrite."""
    report.root_hash, report.chain_head = walk.tree.root(), walk.chain
    for level, node_index, _ in nodes.rest():
        if walk.gap_at is None:  # after a gap every later node is off anyway; the gap is the finding
            report.add(
                Problem(
                    "unexpected_node",
                    f"a stored node (level {level}, index {node_index}) covers leaves "
                    f"{node_index << level}..{((node_index + 1) << level) - 1}, beyond the ledger's "
                    f"{walk.tree.size} leaves: leaves were removed from the end",
                    leaf_index=walk.tree.size,
                )
            )
    report.nodes = nodes.seen
    for head, signature_valid in heads.rest():  # sizes the pass never reached
        if not signature_valid:
            report.add(_bad_signature(head, heads))
            continue
        report.add(
            Problem(
                "tree_head_beyond_ledger",
                f"signed for {head.tree_size} leaves but the ledger has {walk.tree.size}: "
                f"{_leaves(walk.tree.size, head.tree_size - 1)} missing",
                leaf_index=walk.tree.size,
                tree_head_id=head.id,
            )
        )
    report.tree_heads = heads.seen
    if walk.first_bad_head is not None:
        first_bad, head_id = walk.first_bad_head
        report.add(
            Problem(
                "rewritten_between",
                f"the leaves signed at size {walk.last_good_size} still match, those signed at size {first_bad} "
                f"no longer do: the alteration lies in {_leaves(walk.last_good_size, first_bad - 1)}",
                tree_head_id=head_id,
            )
        )


def _leaf_batches(session: Session) -> Generator[list[tuple[Any, ...]]]:
    query = (
        select(*LEAF_ROW_COLUMNS)
        .outerjoin(StoredEvent, StoredEvent.id == LedgerLeaf.audit_event_id)
        .order_by(LedgerLeaf.leaf_index)
    )
    return _fetch_batches(session, "verify_leaves", query, LEAF_BATCH)


def _node_batches(session: Session) -> Generator[list[Node]]:
    """Stored nodes in completion order (see ``_completion_order``)."""
    last_leaf = literal_column('(("index" + 1) << "level") - 1', BigInteger)
    query = select(LedgerNode.level, LedgerNode.index, LedgerNode.hash).order_by(last_leaf, LedgerNode.level)
    return _fetch_batches(session, "verify_nodes", query, LEAF_BATCH)


def _fetch_batches(session: Session, name: str, query: Select[Any], size: int) -> Generator[list[tuple[Any, ...]]]:
    """``query``'s rows as plain tuples, by a server-side cursor in the session's transaction (and snapshot).

    Straight from psycopg: SQLAlchemy's result rows cost more per leaf than all the hashing.
    """
    sql = str(query.compile(dialect=session.get_bind().dialect))
    driver = cast("psycopg.Connection[Any]", session.connection().connection.driver_connection)
    with driver.cursor(name, binary=True) as cursor:  # binary: hashes arrive as bytes, not hex
        cursor.execute(sql)
        while batch := cursor.fetchmany(size):
            yield batch


def _run_length(walk: _Walk, heads: _TreeHeadStream, available: int) -> int:
    """How many leaves the next run takes: up to the next size with something to check at it."""
    size, length = walk.tree.size, available
    for stop in (heads.next_size(), walk.saved_size):
        if stop is not None and stop > size:
            length = min(length, stop - size)
    return length


def _walk_run(
    report: Report,
    walk: _Walk,
    nodes: _StoredNodes,
    rows: Sequence[Sequence[Any]],
    contents: Sequence[bytes | None],
) -> None:
    """A run of leaves: the fast path if it confirms them, else the detailed checks leaf by leaf."""
    report.leaves += len(rows)
    run = fast_pass.check_run(rows, contents, walk.tree, walk.chain, walk.last_seq) if walk.clean else None
    if run is not None and nodes.match(run.nodes):
        walk.tree, walk.chain, walk.stored_chain, walk.last_seq = run.tree, run.chain, run.chain, run.last_seq
        walk.expected_index = walk.tree.size
        return
    for row, content in zip(rows, contents, strict=True):
        _walk_leaf(report, walk, nodes, LeafRow.of(row, content))


def _walk_leaf(report: Report, walk: _Walk, nodes: _StoredNodes, row: LeafRow) -> None:
    index = row.leaf_index
    if index != walk.expected_index:
        report.add(
            Problem(
                "leaf_missing",
                f"{_leaves(walk.expected_index, index - 1)} missing (deleted): the index jumps to {index}",
                leaf_index=walk.expected_index,
            )
        )
        if walk.gap_at is None:
            walk.gap_at = walk.expected_index
    walk.expected_index = index + 1
    content = _check_leaf(report, row)
    _check_chain_link(report, row, walk)
    _check_sequence(report, row, walk)
    walk.chain = merkle.chain_hash(walk.chain, content)
    completed = walk.tree.append(content)
    if walk.gap_at is None:
        for level, node_index, node in completed:
            _check_node(report, nodes, (level, node_index), node)


def _at_size(report: Report, heads: _TreeHeadStream, walk: _Walk) -> None:
    """What is checked when the pass reaches a size: the tree heads of that size, the saved one's root."""
    _check_heads_at(report, heads, walk)
    if walk.tree.size == walk.saved_size:
        walk.saved_root = walk.tree.root()


def _check_leaf(report: Report, row: LeafRow) -> bytes:
    """The leaf hash recomputed from the event row (the stored one if the row is gone)."""
    index, stored, content = row.leaf_index, row.leaf_hash, row.content
    if row.row_id is None or content is None:
        report.add(
            Problem(
                "event_missing",
                f"covers audit_events id {row.audit_event_id}, which no longer exists (deleted)",
                leaf_index=index,
            )
        )
        return bytes(stored)
    if content != stored:
        report.add(
            Problem(
                "content_changed",
                f"the stored event (audit_events id {row.row_id}) no longer hashes to its leaf: "
                "its content was altered after it was appended",
                leaf_index=index,
                event_id=row.event_id,
            )
        )
    return content


def _check_chain_link(report: Report, row: LeafRow, walk: _Walk) -> None:
    expected = merkle.chain_hash(walk.stored_chain, row.leaf_hash)
    if expected != row.chain_hash:
        report.add(
            Problem(
                "chain_broken",
                "chain hash is not SHA-256(previous chain hash || leaf hash): a leaf before it was removed, "
                "inserted or rewritten",
                leaf_index=row.leaf_index,
                event_id=row.event_id,
            )
        )
    walk.stored_chain = row.chain_hash


def _check_sequence(report: Report, row: LeafRow, walk: _Walk) -> None:
    source, seq = row.source, row.delivery_seq
    if source is None or seq is None:  # the event row is gone (event_missing) or altered (content_changed)
        return
    previous = walk.last_seq.get(source, 0)
    if seq != previous + 1:
        if seq > previous + 1:
            missing = f"event {seq - 1}" if seq - 1 == previous + 1 else f"events {previous + 1}..{seq - 1}"
            why = f"{source} {missing} missing before it, or it was inserted here"
        else:
            why = f"{source} had already reached {previous}: it was inserted here or moved"
        report.add(
            Problem(
                "sequence_out_of_order",
                f"{source} delivery_seq {seq} follows {previous} along the leaves: {why}",
                leaf_index=row.leaf_index,
                event_id=row.event_id,
            )
        )
    walk.last_seq[source] = seq


def _check_node(report: Report, nodes: _StoredNodes, key: merkle.NodeKey, node: bytes) -> None:
    level, node_index = key
    first_leaf, last_leaf = node_index << level, ((node_index + 1) << level) - 1
    for extra_level, extra_index, _ in nodes.before(_completion_order(level, node_index)):
        report.add(
            Problem(
                "unexpected_node",
                f"a stored node (level {extra_level}, index {extra_index}) is not part of the tree",
                leaf_index=extra_index << extra_level,
            )
        )
    stored = nodes.take(level, node_index)
    if stored is None:
        report.add(
            Problem(
                "node_missing",
                f"the node over leaves {first_leaf}..{last_leaf} (level {level}, index {node_index}) is not stored",
                leaf_index=first_leaf,
            )
        )
    elif stored != node:
        report.add(
            Problem(
                "node_mismatch",
                f"the stored node over leaves {first_leaf}..{last_leaf} (level {level}, index {node_index}) "
                "does not match the events it covers",
                leaf_index=first_leaf,
            )
        )


def _check_heads_at(report: Report, heads: _TreeHeadStream, walk: _Walk) -> None:
    """Every stored tree head of the size the pass has reached: signature, root, chain head."""
    size = walk.tree.size
    for head, signature_valid in heads.at(size):
        if not signature_valid:
            report.add(_bad_signature(head, heads))
            continue  # a forged head proves nothing, so its root is not evidence either way
        if head.root_hash != walk.tree.root():
            report.add(
                Problem(
                    "tree_head_root_mismatch",
                    f"signed root of the first {size} leaves does not match the events now stored",
                    tree_head_id=head.id,
                )
            )
            if walk.first_bad_head is None:
                walk.first_bad_head = (size, head.id)
        elif walk.first_bad_head is None:
            walk.last_good_size = size
        if head.chain_head != walk.chain:
            report.add(
                Problem(
                    "tree_head_chain_mismatch",
                    f"signed chain head after {size} leaves does not match the events now stored",
                    tree_head_id=head.id,
                )
            )


def _bad_signature(head: LedgerTreeHead, heads: _TreeHeadStream) -> Problem:
    return Problem(
        "tree_head_signature_invalid",
        f"the signature over size {head.tree_size} at {head.timestamp.isoformat()} is not valid under the "
        f"ledger's public key{heads.whose(head)}: forged or altered",
        tree_head_id=head.id,
    )


def _check_uncovered_events(session: Session, report: Report) -> None:
    uncovered = (
        select(StoredEvent.id, StoredEvent.event_id)
        .outerjoin(LedgerLeaf, LedgerLeaf.audit_event_id == StoredEvent.id)
        .where(LedgerLeaf.leaf_index.is_(None))
        .order_by(StoredEvent.id)
    )
    listed = 0
    for row_id, event_id in session.execute(uncovered.limit(MAX_LISTED)).tuples():
        listed += 1
        report.add(
            Problem(
                "event_not_in_ledger",
                f"audit_events id {row_id} is in no leaf: inserted behind ingestion's back, or its leaf was deleted",
                event_id=str(event_id),
            )
        )
    if listed == MAX_LISTED:  # there may be more: count them without listing
        total = session.scalar(select(func.count()).select_from(uncovered.subquery())) or 0
        if total > listed:
            report.add(Problem("event_not_in_ledger", "(more events in no leaf)"), times=total - listed)


def _check_saved_tree_head(
    session: Session, report: Report, saved: SignedTreeHead, public_key: Ed25519PublicKey, saved_root: bytes | None
) -> None:
    size = saved.tree_size
    if not saved.signature_valid(public_key):
        report.add(
            Problem(
                "saved_tree_head_signature_invalid",
                f"the saved tree head (size {size}, key {saved.key_id or '?'}) is not signed by the ledger's key "
                f"{key_id(public_key)}: it proves nothing",
            )
        )
        return
    current = report.leaves
    if size > current:
        report.add(
            Problem(
                "saved_tree_head_beyond_ledger",
                f"the saved tree head covers {size} leaves but the ledger now has {current}: "
                f"{_leaves(current, size - 1)} removed",
                leaf_index=current,
            )
        )
        return
    if saved_root != saved.root_hash:
        report.add(
            Problem(
                "saved_tree_head_root_mismatch",
                f"the first {size} leaves no longer hash to the saved root: the ledger does not extend it",
            )
        )
    if size == 0:
        return
    try:
        proof = merkle.consistency_proof(size, current, lookup(session))
    except LedgerCorrupt as exc:
        report.add(Problem("consistency_proof_unavailable", f"cannot build a proof from the stored nodes: {exc}"))
        return
    if not merkle.verify_consistency(size, current, proof, saved.root_hash, report.root_hash):
        report.add(
            Problem(
                "consistency_proof_failed",
                f"the consistency proof from size {size} to {current} does not verify against the saved root",
            )
        )


def _leaves(first: int, last: int) -> str:
    return f"leaf {first}" if first == last else f"leaves {first}..{last}"


def _completion_order(level: int, node_index: int) -> tuple[int, int]:
    """Nodes sort by the last leaf they cover, then level: the order an incremental build completes them."""
    return ((node_index + 1) << level) - 1, level


class _StoredNodes:
    """Stored nodes, streamed in completion order, consumed in step with the pass over the leaves."""

    def __init__(self, batches: Iterator[list[Node]]) -> None:
        self._batches = batches
        self._buffer: list[Node] = []
        self._next = 0  # position in _buffer of the first node not consumed
        self.seen = 0

    def _head(self) -> Node | None:
        return self._buffer[self._next] if self._fill(1) else None

    def _fill(self, count: int) -> bool:
        """Buffer at least ``count`` unconsumed nodes, if there are that many left."""
        while len(self._buffer) - self._next < count:
            batch = next(self._batches, None)
            if batch is None:
                return False
            self._buffer = self._buffer[self._next :] + batch
            self._next = 0
            self.seen += len(batch)
        return True

    def match(self, expected: list[Node]) -> bool:
        """Consume the next stored nodes if they are exactly ``expected``, in order; else consume nothing."""
        if not self._fill(len(expected)):
            return False
        end = self._next + len(expected)
        if self._buffer[self._next : end] != expected:
            return False
        self._next = end
        return True

    def before(self, order: tuple[int, int]) -> Iterator[Node]:
        while (head := self._head()) is not None and _completion_order(head[0], head[1]) < order:
            yield head
            self._next += 1

    def take(self, level: int, node_index: int) -> bytes | None:
        head = self._head()
        if head is not None and (head[0], head[1]) == (level, node_index):
            self._next += 1
            return head[2]
        return None

    def rest(self) -> Iterator[Node]:
        while (head := self._head()) is not None:
            yield head
            self._next += 1


class _TreeHeadStream:
    """Stored tree heads, streamed by size (one every few seconds adds up to millions a year)."""

    def __init__(self, session: Session, public_key: Ed25519PublicKey) -> None:
        self._public_key = public_key
        self._trusted = key_id(public_key)
        self._rows: Iterator[LedgerTreeHead] = iter(
            session.scalars(
                select(LedgerTreeHead)
                .order_by(LedgerTreeHead.tree_size, LedgerTreeHead.id)
                .execution_options(yield_per=STREAM_BATCH)
            )
        )
        self._head: LedgerTreeHead | None = None
        self.seen = 0
        self._advance()

    def _advance(self) -> None:
        self._head = next(self._rows, None)
        if self._head is not None:
            self.seen += 1

    def next_size(self) -> int | None:
        """The size of the next head not yet checked."""
        return self._head.tree_size if self._head is not None else None

    def at(self, size: int) -> Iterator[tuple[LedgerTreeHead, bool]]:
        """The heads of exactly this size, each with whether its signature is valid."""
        while self._head is not None and self._head.tree_size == size:
            head = self._head
            self._advance()
            yield head, SignedTreeHead.from_row(head).signature_valid(self._public_key)

    def rest(self) -> Iterator[tuple[LedgerTreeHead, bool]]:
        while self._head is not None:
            yield from self.at(self._head.tree_size)

    def whose(self, head: LedgerTreeHead) -> str:
        return (
            "" if head.key_id == self._trusted else f" (claims key {head.key_id}, the trusted key is {self._trusted})"
        )
