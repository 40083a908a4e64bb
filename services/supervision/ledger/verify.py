"""Full verification of the ledger against the stored events, and of a tree head saved earlier.

One pass over the leaves in index order (streamed, constant memory) recomputes each leaf hash from
its ``audit_events`` row, checks the hash chain link by link, rebuilds the tree incrementally and
compares every stored node as it completes, and checks every stored tree head's root and chain
head when the pass reaches its size. Then: events no leaf covers, tree head signatures, and the
saved tree head (its signature, and a consistency proof from it to the current tree).

Checks are local where they can be (a leaf against its own row, a chain link against its
predecessor), so one altered row is reported once, at its leaf, instead of as everything after it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import BigInteger, Engine, RowMapping, func, literal_column, select, text
from sqlalchemy.orm import Session

from services.supervision.ingest.models import StoredEvent
from services.supervision.ledger import merkle
from services.supervision.ledger.keys import key_id
from services.supervision.ledger.leaf_data import WIRE_COLUMNS, leaf_data
from services.supervision.ledger.models import LedgerLeaf, LedgerNode, LedgerTreeHead
from services.supervision.ledger.store import LedgerCorrupt, lookup
from services.supervision.ledger.tree_heads import SignedTreeHead

MAX_LISTED = 50  # problems kept in full; the rest are only counted
STREAM_BATCH = 5000


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
    """Verify in one read-only snapshot, so concurrent ingestion cannot make the counts disagree."""
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

    frontier: merkle.Frontier = field(default_factory=merkle.Frontier)
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


def _walk_leaves(session: Session, report: Report, public_key: Ed25519PublicKey) -> bytes | None:
    """The pass; returns the recomputed root at the saved tree head's size, if the ledger reaches it."""
    walk = _Walk()
    nodes = _PeekableNodes(session)
    heads = _TreeHeadStream(session, public_key)
    saved_size = report.saved_tree_head.tree_size if report.saved_tree_head else None
    saved_root = merkle.EMPTY_ROOT if saved_size == 0 else None
    _check_heads_at(report, heads, walk)
    # Core execution (no ORM row processing) and server-side cursors: a million rows stream through.
    rows = (
        session.connection()
        .execute(
            select(
                LedgerLeaf.leaf_index,
                LedgerLeaf.audit_event_id,
                LedgerLeaf.leaf_hash,
                LedgerLeaf.chain_hash,
                StoredEvent.id.label("row_id"),
                *WIRE_COLUMNS,
            )
            .outerjoin(StoredEvent, StoredEvent.id == LedgerLeaf.audit_event_id)
            .order_by(LedgerLeaf.leaf_index)
            .execution_options(yield_per=STREAM_BATCH)
        )
        .mappings()
    )
    for row in rows:
        index: int = row["leaf_index"]
        report.leaves += 1
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
        completed = walk.frontier.append(content)
        if walk.gap_at is None:
            for key, node in completed:
                _check_node(report, nodes, key, node)
        _check_heads_at(report, heads, walk)
        if walk.frontier.size == saved_size:
            saved_root = walk.frontier.root()
    report.root_hash, report.chain_head = walk.frontier.root(), walk.chain
    for level, node_index, _ in nodes.rest():
        if walk.gap_at is None:  # after a gap every later node is off anyway; the gap is the finding
            report.add(
                Problem(
                    "unexpected_node",
                    f"a stored node (level {level}, index {node_index}) covers leaves "
                    f"{node_index << level}..{((node_index + 1) << level) - 1}, beyond the ledger's "
                    f"{walk.frontier.size} leaves: leaves were removed from the end",
                    leaf_index=walk.frontier.size,
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
                f"signed for {head.tree_size} leaves but the ledger has {walk.frontier.size}: "
                f"{_leaves(walk.frontier.size, head.tree_size - 1)} missing",
                leaf_index=walk.frontier.size,
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
    return saved_root


def _check_leaf(report: Report, row: RowMapping) -> bytes:
    """The leaf hash recomputed from the event row (the stored one if the row is gone)."""
    index, stored = row["leaf_index"], row["leaf_hash"]
    if row["row_id"] is None:
        report.add(
            Problem(
                "event_missing",
                f"covers audit_events id {row['audit_event_id']}, which no longer exists (deleted)",
                leaf_index=index,
            )
        )
        return bytes(stored)
    content = merkle.leaf_hash(leaf_data(row))
    if content != stored:
        report.add(
            Problem(
                "content_changed",
                f"the stored event (audit_events id {row['row_id']}) no longer hashes to its leaf: "
                "its content was altered after it was appended",
                leaf_index=index,
                event_id=str(row["event_id"]),
            )
        )
    return content


def _check_chain_link(report: Report, row: RowMapping, walk: _Walk) -> None:
    expected = merkle.chain_hash(walk.stored_chain, row["leaf_hash"])
    if expected != row["chain_hash"]:
        report.add(
            Problem(
                "chain_broken",
                "chain hash is not SHA-256(previous chain hash || leaf hash): a leaf before it was removed, "
                "inserted or rewritten",
                leaf_index=row["leaf_index"],
                event_id=str(row["event_id"]) if row["event_id"] is not None else None,
            )
        )
    walk.stored_chain = row["chain_hash"]


def _check_sequence(report: Report, row: RowMapping, walk: _Walk) -> None:
    source, seq = row["source"], row["delivery_seq"]
    if source is None:  # the event row is gone; reported as event_missing
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
                leaf_index=row["leaf_index"],
                event_id=str(row["event_id"]),
            )
        )
    walk.last_seq[source] = seq


def _check_node(report: Report, nodes: _PeekableNodes, key: merkle.NodeKey, node: bytes) -> None:
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
    size = walk.frontier.size
    for head, signature_valid in heads.at(size):
        if not signature_valid:
            report.add(_bad_signature(head, heads))
            continue  # a forged head proves nothing, so its root is not evidence either way
        if head.root_hash != walk.frontier.root():
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


class _PeekableNodes:
    """Stored nodes, streamed in completion order, consumed in step with the pass over the leaves."""

    def __init__(self, session: Session) -> None:
        last_leaf = literal_column('(("index" + 1) << "level") - 1', BigInteger)
        self._rows: Iterator[tuple[int, int, bytes]] = iter(
            session.connection()
            .execute(
                select(LedgerNode.level, LedgerNode.index, LedgerNode.hash)
                .order_by(last_leaf, LedgerNode.level)
                .execution_options(yield_per=STREAM_BATCH)
            )
            .tuples()
        )
        self._head: tuple[int, int, bytes] | None = None
        self.seen = 0
        self._advance()

    def _advance(self) -> None:
        self._head = next(self._rows, None)
        if self._head is not None:
            self.seen += 1

    def before(self, order: tuple[int, int]) -> Iterator[tuple[int, int, bytes]]:
        while self._head is not None and _completion_order(self._head[0], self._head[1]) < order:
            yield self._head
            self._advance()

    def take(self, level: int, node_index: int) -> bytes | None:
        if self._head is not None and (self._head[0], self._head[1]) == (level, node_index):
            node = self._head[2]
            self._advance()
            return node
        return None

    def rest(self) -> Iterator[tuple[int, int, bytes]]:
        while self._head is not None:
            yield self._head
            self._advance()


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
