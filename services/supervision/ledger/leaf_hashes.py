"""Leaf hashes recomputed from the stored events: most of a verification's work, spread over the cores.

Recomputing a leaf (fetch its ``audit_events`` row, spell its leaf data, hash it) is about three
quarters of a full verification and needs nothing from the other leaves, while the rest of the
pass (chain, tree, nodes, tree heads) is sequential. So on a large ledger the verifier hands out
ranges of leaf indexes to helper processes, one per core, each reading on a connection of its own
in the verifier's snapshot (``pg_export_snapshot``): they see exactly the rows the main pass sees,
whatever ingestion commits meanwhile. Small ledgers, and sessions whose snapshot cannot be shared,
are hashed in the main process by the same function.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from types import TracebackType
from typing import Any, cast

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session

from services.supervision.ingest.models import StoredEvent
from services.supervision.ledger import merkle
from services.supervision.ledger.fast_pass import LEAF_INDEX
from services.supervision.ledger.leaf_data import VALUE_COLUMNS, leaf_data_of_values
from services.supervision.ledger.models import LedgerLeaf

HELPERS_FROM = 100_000  # leaves: starting the helpers takes about a second, not worth it below
MAX_HELPERS = 4  # with more, the main process's sequential part is the limit anyway

# The events of a range of leaves, in leaf order: whether the row exists, then its VALUE_COLUMNS.
RANGE_QUERY = (
    select(StoredEvent.id, *VALUE_COLUMNS)
    .select_from(LedgerLeaf)
    .outerjoin(StoredEvent, StoredEvent.id == LedgerLeaf.audit_event_id)
    .where(LedgerLeaf.leaf_index.between(bindparam("first"), bindparam("last")))
    .order_by(LedgerLeaf.leaf_index)
)

Rows = Sequence[Sequence[Any]]  # leaf rows, consecutive in index order, the leaf index first


def leaf_hashes(connection: psycopg.Connection[Any], sql: str, first: int, last: int) -> list[bytes | None]:
    """The hash recomputed from its event row of each leaf ``first..last``, in index order; None where
    the event row is gone. ``sql``: ``RANGE_QUERY`` compiled for the connection."""
    with connection.cursor(binary=True) as cursor:
        rows = cursor.execute(sql, {"first": first, "last": last}).fetchall()
    return [None if row[0] is None else merkle.leaf_hash(leaf_data_of_values(row[1:])) for row in rows]


class LeafHasher:
    """Recomputes the leaf hashes of batches of leaf rows, in helper processes when that pays."""

    def __init__(self, session: Session, ledger_size: int) -> None:
        self._connection = cast("psycopg.Connection[Any]", session.connection().connection.driver_connection)
        self._sql = str(RANGE_QUERY.compile(dialect=session.get_bind().dialect))
        self._helpers = min(MAX_HELPERS, _cores())
        self._pool: ProcessPoolExecutor | None = None
        snapshot = _shared_snapshot(session) if ledger_size >= HELPERS_FROM and self._helpers > 1 else None
        if snapshot is not None:
            info = self._connection.info
            self._pool = ProcessPoolExecutor(
                self._helpers,
                # spawn, not fork: a forked child would share this process's database connections
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_helper,
                initargs=(make_conninfo(info.dsn, password=info.password), snapshot, self._sql),
            )

    @property
    def in_helpers(self) -> bool:
        return self._pool is not None

    def __enter__(self) -> LeafHasher:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)

    def paired(self, batches: Iterable[Rows]) -> Iterator[tuple[Rows, list[bytes | None]]]:
        """Each batch with the recomputed hashes of its leaves, in the batches' order."""
        if self._pool is None:
            for rows in batches:
                yield rows, _checked(rows, leaf_hashes(self._connection, self._sql, *_span(rows)))
            return
        # Keep every helper busy with one batch more waiting, while the main pass checks the oldest.
        waiting: deque[tuple[Rows, Future[list[bytes | None]]]] = deque()
        for rows in batches:
            waiting.append((rows, self._pool.submit(_helper_leaf_hashes, *_span(rows))))
            if len(waiting) > 2 * self._helpers:
                done, hashes = waiting.popleft()
                yield done, _checked(done, hashes.result())
        while waiting:
            done, hashes = waiting.popleft()
            yield done, _checked(done, hashes.result())


def _span(rows: Rows) -> tuple[int, int]:
    return rows[0][LEAF_INDEX], rows[-1][LEAF_INDEX]


def _checked(rows: Rows, hashes: list[bytes | None]) -> list[bytes | None]:
    if len(hashes) != len(rows):  # the snapshot was not shared after all: nothing else can be trusted
        raise RuntimeError(f"leaves {_span(rows)}: {len(rows)} rows but {len(hashes)} recomputed hashes")
    return hashes


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _shared_snapshot(session: Session) -> str | None:
    """This transaction's snapshot, exported, if another connection importing it sees what this session
    sees: one snapshot for the whole transaction, and no writes of its own (those no one else sees)."""
    isolation, read_only = session.execute(
        text("select current_setting('transaction_isolation'), current_setting('transaction_read_only')")
    ).one()
    if isolation != "repeatable read" or read_only != "on":
        return None
    return str(session.scalar(text("select pg_export_snapshot()")))


# --- in a helper process -------------------------------------------------------------------------

_helper_connection: psycopg.Connection[Any] | None = None
_helper_sql = ""


def _start_helper(conninfo: str, snapshot: str, sql_text: str) -> None:
    global _helper_connection, _helper_sql  # one connection per helper process, for its lifetime
    connection = psycopg.connect(conninfo, autocommit=True)  # autocommit: the transaction is begun by hand
    connection.execute("begin isolation level repeatable read read only")
    connection.execute(sql.SQL("set transaction snapshot {}").format(sql.Literal(snapshot)))  # before any query
    _helper_connection, _helper_sql = connection, sql_text


def _helper_leaf_hashes(first: int, last: int) -> list[bytes | None]:
    if _helper_connection is None:
        raise RuntimeError("helper process not started")
    return leaf_hashes(_helper_connection, _helper_sql, first, last)
