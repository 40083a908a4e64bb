"""A row inserted from one JSON parameter: ``jsonb_populate_record`` turns it into the table's row.

For statements on a hot path that write rows of many columns (the bid submission writes three in
one statement). Bound one column per parameter, such a statement has more than psycopg's 50
parameters, above which it re-parses the SQL text for every execution instead of caching it, and
SQLAlchemy and psycopg each handle every parameter on the way (py-spy, under the bid surge, put
that statement at ~0.6 ms of a bid's worker-thread time: docs/adr/0007-bid-surge.md). As one JSON
text per row, PostgreSQL converts each value with the column's own input function, as it does for
a text parameter.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any


def insert_from_json(table: str, columns: Iterable[str], param: str) -> str:
    """``insert into <table> (<columns>) select <columns> from jsonb_populate_record(…, :<param>)``.

    Columns not named keep their defaults; a named column missing from the JSON is NULL."""
    names = ", ".join(columns)
    record = f"jsonb_populate_record(null::{table}, cast(:{param} as jsonb))"
    return f"insert into {table} ({names}) select {names} from {record}"  # noqa: S608 - our own names


def json_row(values: Mapping[str, Any]) -> str:
    """The JSON text of one row for :func:`insert_from_json`."""
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"), default=_scalar)


def _scalar(value: object) -> str:
    # Timestamps keep their offset and microseconds (ISO 8601, which timestamptz's input reads).
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"no JSON form for a column value of type {type(value).__name__}")
