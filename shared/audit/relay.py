"""Deliver outbox rows to supervision: in order, at least once, with backoff.

Order. Sequence ids are handed out before commit, so a transaction can commit a *lower* id after a
higher one was already shipped. We therefore only ship rows whose writing transaction (``xid``) is
older than the oldest transaction still running (the snapshot's ``xmin``): every row that can still
appear has a larger ``xid``, so ``(xid, id)`` is a total order that later rows can never undercut.

One relay per service at a time: a session-level advisory lock, released when its connection ends,
so a crashed replica hands over to another without operator action.

At least once. A batch is stamped with contiguous ``delivery_seq`` numbers, posted, and marked
delivered only after supervision's 2xx. A crash in between re-sends the same ids and seqs; supervision
drops duplicates by event id.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import Engine, text

from shared.background import BackgroundLoop
from shared.errors import ApiError

log = logging.getLogger("shared.audit.relay")

BATCH_SIZE = 500


def _lock_key(schema: str) -> int:
    return zlib.crc32(f"audit-relay:{schema}".encode())


class OutboxRelay(BackgroundLoop):
    def __init__(
        self,
        *,
        engine: Engine,
        schema: str,
        source: str,
        post_batch: Callable[[list[dict[str, Any]]], None],
        interval: float = 0.5,
        max_backoff: float = 10.0,
    ) -> None:
        self.engine = engine
        self.schema = schema
        self.source = source
        self.post_batch = post_batch
        self.interval = interval
        self.max_backoff = max_backoff
        super().__init__(f"audit-relay-{source}")

    def _back_off(self, seconds: float) -> None:
        """Wait after a failure: only stopping cuts it short. Wakes from busy requests must not,
        or a down supervision would be retried once per request (and every pending row updated)."""
        self._stop.wait(seconds)
        self._wake.clear()

    def _run(self) -> None:
        backoff = self.interval
        while not self._stop.is_set():
            try:
                with self.engine.connect() as lock_conn:
                    got = lock_conn.execute(
                        text("select pg_try_advisory_lock(:k)"), {"k": _lock_key(self.schema)}
                    ).scalar_one()
                    lock_conn.commit()
                    if not got:  # another replica relays; check again later
                        self._sleep(max(self.interval, 2.0))
                        continue
                    try:
                        backoff = self._deliver_while_holding_lock(backoff)
                    finally:
                        lock_conn.execute(text("select pg_advisory_unlock(:k)"), {"k": _lock_key(self.schema)})
                        lock_conn.commit()
            except Exception:  # the relay must outlive any one failure (database restart included)
                log.exception("audit relay round failed")
                self._back_off(backoff)
                backoff = min(backoff * 2, self.max_backoff)

    def _deliver_while_holding_lock(self, backoff: float) -> float:
        while not self._stop.is_set():
            try:
                delivered = self.deliver_once()
            except (httpx.HTTPError, ApiError) as exc:  # supervision or the portal unreachable or refusing
                log.warning("audit delivery to supervision failed: %s", exc)
                self._back_off(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            backoff = self.interval
            if delivered < BATCH_SIZE:
                self._sleep(self.interval)
        return backoff

    # -- one round -------------------------------------------------------------------------------
    def deliver_once(self) -> int:
        """Stamp, send and mark one batch. Returns how many events were delivered."""
        table = f'"{self.schema}".audit_outbox'
        with self.engine.begin() as conn:
            rows = (
                conn.execute(
                    text(
                        f"select * from {table} where delivered_at is null "  # noqa: S608 - schema is ours
                        "and xid < (pg_snapshot_xmin(pg_current_snapshot())::text)::bigint "
                        "order by delivery_seq nulls last, xid, id limit :n"
                    ),
                    {"n": BATCH_SIZE},
                )
                .mappings()
                .all()
            )
            if not rows:
                return 0
            next_seq = conn.execute(text(f"select coalesce(max(delivery_seq), 0) + 1 from {table}")).scalar_one()  # noqa: S608
            events = []
            for row in rows:
                seq = row["delivery_seq"]
                if seq is None:
                    seq = next_seq
                    next_seq += 1
                    conn.execute(
                        text(f"update {table} set delivery_seq = :s where id = :id"),  # noqa: S608
                        {"s": seq, "id": row["id"]},
                    )
                events.append(_to_wire(row, self.source, seq))
        # The stamp is committed before sending, so a retry re-sends the very same sequence numbers.
        try:
            self.post_batch(events)
        except Exception as exc:
            with self.engine.begin() as conn:
                conn.execute(
                    text(
                        f"update {table} set attempts = attempts + 1, last_error = :e "  # noqa: S608
                        "where id = any(:ids)"
                    ),
                    {"e": str(exc)[:500], "ids": [r["id"] for r in rows]},
                )
            raise
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    f"update {table} set delivered_at = clock_timestamp(), "  # noqa: S608
                    "attempts = attempts + 1, last_error = null where id = any(:ids)"
                ),
                {"ids": [r["id"] for r in rows]},
            )
        return len(rows)


def _to_wire(row: Any, source: str, seq: int) -> dict[str, Any]:
    return {
        "event_id": str(row["event_id"]),
        "source": source,
        "delivery_seq": seq,
        "occurred_at": row["occurred_at"].isoformat(),
        "actor": row["actor"],
        "actor_role": row["actor_role"],
        "organisation": row["organisation"],
        "platform": row["platform"],
        "action": row["action"],
        "object_type": row["object_type"],
        "object_id": row["object_id"],
        "project_id": row["project_id"],
        "lot_id": row["lot_id"],
        "change": row["change"],
        "digest": row["digest"],
        "client_ip": row["client_ip"],
        "user_agent": row["user_agent"],
        "device_fingerprint": row["device_fingerprint"],
        "request_id": row["request_id"],
    }
