"""The CSV export of a search: streamed batch by batch, safe to open in Excel."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, Text, cast, select
from sqlalchemy.orm import Session

from services.supervision.ingest.models import StoredEvent
from services.supervision.trail.schemas import LOCAL_TZ
from services.supervision.trail.service import Search, inclusion_proof_path, paged, plan_for_these_values

# The column order is API: spreadsheets and scripts address columns by position. Append, never reorder.
COLUMNS = (
    "id",
    "event_id",
    "occurred_at",
    "occurred_at_local",
    "received_at",
    "source",
    "delivery_seq",
    "platform",
    "project_id",
    "lot_id",
    "organisation",
    "actor",
    "actor_role",
    "action",
    "object_type",
    "object_id",
    "client_ip",
    "device_fingerprint",
    "user_agent",
    "request_id",
    "digest",
    "change",
    "inclusion_proof",
)

# Excel reads a UTF-8 file as the local ANSI code page (GBK on Chinese Windows) unless it starts
# with a byte order mark; with one, 开标 stays 开标.
BOM = "\ufeff"

# A cell starting with one of these is a formula to Excel and LibreOffice (CSV injection, OWASP);
# a leading apostrophe makes it text. Tab and carriage return are on OWASP's list as well.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

BATCH = 1000  # rows per query and per chunk sent: memory stays flat whatever the export's size

# The columns that hold text a client supplied, in COLUMNS order: each goes through safe_cell.
_TEXT_COLUMNS = COLUMNS[COLUMNS.index("source") : COLUMNS.index("change") + 1]

# Read as plain columns, not ORM objects, and ``change`` as PostgreSQL's own JSON text rather than
# parsed and dumped again: an export of 100,000 rows spends its time here.
_SELECT = select(
    StoredEvent.id,
    StoredEvent.event_id,
    StoredEvent.occurred_at,
    StoredEvent.received_at,
    *(getattr(StoredEvent, name) for name in _TEXT_COLUMNS if name != "change"),
    cast(StoredEvent.change, Text).label("change"),
)
_FIRST_TEXT = 4  # _SELECT's text columns start here and run to its end, as _TEXT_COLUMNS does


def safe_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_row(e: Row[Any]) -> list[str]:
    """One event's cells in COLUMNS order; every text a client supplied goes through ``safe_cell``."""
    occurred: datetime = e.occurred_at
    return [
        str(e.id),
        str(e.event_id),
        occurred.astimezone(UTC).isoformat(),
        occurred.astimezone(LOCAL_TZ).isoformat(),
        e.received_at.astimezone(UTC).isoformat(),
        *map(safe_cell, e[_FIRST_TEXT:]),
        inclusion_proof_path(e.event_id),
    ]


def _encode(rows: list[list[str]], prefix: str = "") -> bytes:
    buffer = io.StringIO()
    buffer.write(prefix)
    csv.writer(buffer).writerows(rows)  # RFC 4180: quoted as needed, CRLF line ends
    return buffer.getvalue().encode("utf-8")


def csv_chunks(session_factory: Callable[[], Session], found: Search, *, after: int = 0) -> Iterator[bytes]:
    """The export, one chunk per batch of events, the header (with the BOM) first.

    Each batch runs in its own short session: a slow download must not hold a transaction (and
    its snapshot) open for minutes. ``found`` should end at a fixed id (see ``up_to_now``) so that
    the export is one well-defined set however long the download takes.
    """
    yield _encode([list(COLUMNS)], prefix=BOM)
    if found.empty:
        return
    while True:
        with session_factory() as session:
            plan_for_these_values(session)
            rows = session.execute(paged(_SELECT, found, after=after, limit=BATCH)).all()
        if rows:  # sent with the session closed: a slow reader holds no transaction open
            yield _encode([csv_row(e) for e in rows])
        if len(rows) < BATCH:
            return
        after = rows[-1].id
