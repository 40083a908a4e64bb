"""The verifier's spelling of leaf data (``leaf_data_of_values``) is byte for byte the definition:
``canonical_json`` of the wire fields, as ``leaf_data`` (the append path) computes it."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select

from services.supervision.ingest.models import StoredEvent
from services.supervision.ledger import merkle
from services.supervision.ledger.leaf_data import (
    VALUE_COLUMNS,
    VALUE_FIELDS,
    WIRE_COLUMNS,
    WIRE_FIELDS,
    leaf_data,
    leaf_data_of_values,
)
from services.supervision.ledger.leaf_hashes import RANGE_QUERY, leaf_hashes
from services.supervision.ledger.models import LedgerLeaf
from shared.audit.outbox import canonical_json
from tests.supervision.events import make_event

# Strings json.dumps escapes (quotes, backslashes, control characters) and those it must leave
# alone with ensure_ascii=False (Chinese, accents, emoji, U+2028), keys that sort differently by
# code point than by eye, and JSON that arrives with escapes of its own.
# (No NUL: PostgreSQL stores none, in text or JSONB.)
TRICKY = ['引号"与\\反斜杠', "换行\n制表\t回车\r", "\x01\x1f\x7f", "é ñ ü", "😀 𠀋", "\u2028\u2029", "", " "]
VARIED_CHANGES: list[dict[str, Any]] = [
    {},
    {"name": "开标大厅", "capacity": 80},
    {"金额": 1250000, "items": [1, {"b": None, "a": True}], "B": False, "a": 1.5, "_": -0.25},
    {"nested": {"z": {"y": [[], {}, [None, "中"]]}, "a": {"c": 1, "b": [1e-7, 2.5e20, 0.1]}}, "Z": "大写"},
    {"escapes": json.loads('"\\u4e2d\\u6587 \\ud83d\\ude00 \\u0001 \\"q\\" \\\\ \\/"'), "big": 2**62, "neg": -(2**40)},
    {key: key for key in TRICKY},
    {"null": None, "list": [None, None], "obj": {"null": None}},
]


def varied_events() -> list[dict[str, Any]]:
    """Wire events (valid for ingestion) covering the spellings the leaf data depends on."""
    events = [make_event("trading", n, change=change) for n, change in enumerate(VARIED_CHANGES, start=1)]
    n = len(events)
    events += [
        make_event("trading", n + 1, actor=None, organisation=None, platform=None, project_id=None, lot_id=None,
                   client_ip=None, user_agent=None, device_fingerprint=None, request_id=None),
        make_event("trading", n + 2, actor="专家 张三", organisation="晋城市公共资源交易中心", platform="gaoping",
                   object_id=TRICKY[0], project_id="项目-1", lot_id="标段\t2", user_agent=TRICKY[1],
                   device_fingerprint=TRICKY[2], request_id=TRICKY[4]),
        make_event("trading", n + 3, occurred_at="2026-11-29T17:05:00.123456+08:00"),  # stored as UTC
        make_event("trading", n + 4, occurred_at="2026-11-29T00:00:00-05:30"),  # no fraction
        make_event("trading", n + 5, occurred_at="2026-11-29T23:59:59.000001+00:00"),
    ]  # fmt: skip
    return events


def definition(row: dict[str, Any]) -> bytes:
    """The leaf data by the module docstring alone: canonical_json of the wire fields, two spellings fixed."""
    wire = {name: row[name] for name in WIRE_FIELDS}
    wire["event_id"] = str(uuid.UUID(str(wire["event_id"])))
    wire["occurred_at"] = wire["occurred_at"].astimezone(UTC).isoformat()
    return canonical_json(wire)


def test_the_spelling_covers_the_wire_format():
    assert sorted(VALUE_FIELDS) == sorted(WIRE_FIELDS) == list(VALUE_FIELDS)
    assert [column.name for column in VALUE_COLUMNS] == list(VALUE_FIELDS)


def test_stored_events_spell_the_same_both_ways(ingest, connection):
    """Events stored by ingestion, read back as the verifier reads them (psycopg, binary, JSONB as
    text) and as the append path does (SQLAlchemy): the same bytes, and the stored leaf hashes."""
    events = varied_events()
    assert ingest(events).status_code == 200, ingest(events).text
    driver = connection.connection.driver_connection
    in_leaf_order = (LedgerLeaf, LedgerLeaf.audit_event_id == StoredEvent.id)
    by_definition = (
        connection.execute(select(*WIRE_COLUMNS).join(*in_leaf_order).order_by(LedgerLeaf.leaf_index)).mappings().all()
    )
    fast_sql = str(
        select(*VALUE_COLUMNS).join(*in_leaf_order).order_by(LedgerLeaf.leaf_index).compile(dialect=connection.dialect)
    )
    with driver.cursor(binary=True) as cursor:
        fetched = cursor.execute(fast_sql).fetchall()
    stored = connection.execute(select(LedgerLeaf.leaf_hash).order_by(LedgerLeaf.leaf_index)).scalars().all()
    assert len(fetched) == len(by_definition) == len(stored) == len(events)
    for values, row, stored_hash in zip(fetched, by_definition, stored, strict=True):
        expected = definition(dict(row))
        assert leaf_data_of_values(values) == leaf_data(row) == expected
        assert merkle.leaf_hash(expected) == stored_hash
    # and the function the verifier (and its helper processes) runs, over the whole range
    range_sql = str(RANGE_QUERY.compile(dialect=connection.dialect))
    assert leaf_hashes(driver, range_sql, 0, len(events) - 1) == stored


def test_random_events_spell_as_canonical_json():
    """Many events of random content, the JSONB text in PostgreSQL's spelling (its own key order,
    spaces, escapes): the fast spelling is canonical_json of the same values."""
    rng = random.Random(6962)
    alphabet = [*"abcxyzABC019 _-:/.,", *"中文晋城", *TRICKY, "\x00", "\\", '"', "\n", "\u00e9", "\U0001f600"]

    def text(maximum: int = 12) -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(maximum)))

    def value(depth: int = 0) -> Any:
        kinds: list[Callable[[], Any]] = [
            lambda: rng.choice([None, True, False]),
            lambda: rng.randrange(-(2**63), 2**63),
            lambda: rng.choice([0.5, -1.25, 1e-7, 3.0, 123456.789]),
            text,
            lambda: [value(depth + 1) for _ in range(rng.randrange(4))],
            lambda: {text(6): value(depth + 1) for _ in range(rng.randrange(5))},
        ]
        return rng.choice(kinds if depth < 3 else kinds[:4])()  # containers nest three deep at most

    for _ in range(500):
        wire: dict[str, Any] = {name: rng.choice([None, text(20)]) for name in WIRE_FIELDS}
        wire |= {name: text(20) or "x" for name in ("action", "actor_role", "object_type", "object_id", "source")}
        wire["delivery_seq"] = rng.randrange(1, 2**62)
        wire["change"] = {text(8): value() for _ in range(rng.randrange(6))}
        event_id = uuid.UUID(int=rng.getrandbits(128))
        offset = timezone(timedelta(minutes=rng.randrange(-720, 841, 15)))
        moment = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(microseconds=rng.randrange(10**15))
        moment = moment.replace(microsecond=rng.choice([0, moment.microsecond])).astimezone(offset)
        stored = wire | {"event_id": event_id, "occurred_at": moment}  # as psycopg returns the row
        # JSONB as text: the values in an order and spelling of PostgreSQL's, not canonical ones
        change_text = json.dumps(dict(reversed(wire["change"].items())), separators=(", ", ": "), ensure_ascii=True)
        fetched = stored | {"event_id": str(event_id), "change": change_text}  # as the verifier fetches it
        values = tuple(fetched[name] for name in VALUE_FIELDS)
        assert leaf_data_of_values(values) == leaf_data(stored) == definition(stored)


def test_values_of_unexpected_types_spell_as_the_definition():
    """A column retyped or a constraint dropped behind our back: spelled as leaf_data would spell
    it, so the leaf reads as altered instead of the verification crashing."""
    base = make_event("trading", 7)
    stored = base | {
        "event_id": uuid.UUID(base["event_id"]),
        "occurred_at": datetime.fromisoformat(base["occurred_at"]),
    }
    for odd in ({"actor": 42}, {"action": None}, {"delivery_seq": "7"}, {"change": None}, {"platform": ["x"]}):
        row = stored | odd
        change = None if row["change"] is None else json.dumps(row["change"])  # NULL arrives as None
        fetched = row | {"event_id": base["event_id"], "change": change}
        values = tuple(fetched[name] for name in VALUE_FIELDS)
        assert leaf_data_of_values(values) == leaf_data(row), odd
