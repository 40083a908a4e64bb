"""Rows inserted from one JSON parameter read back exactly as bound column by column (real PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DataError

from shared.json_rows import insert_from_json, json_row

COLUMNS = ("id", "at", "on_day", "size", "label", "code", "doc", "missing")


@pytest.fixture
def table(connection):
    connection.execute(
        text(
            "create temporary table json_rows_probe (id uuid, at timestamptz, on_day date, size bigint,"
            " label text, code varchar(3), doc jsonb, missing text, kept text default 'default')"
        )
    )
    return connection


def test_every_value_reads_back_as_it_was(table):
    values = {
        "id": uuid.uuid4(),
        "at": datetime(2026, 11, 29, 16, 5, 7, 123456, tzinfo=timezone(timedelta(hours=8))),
        "on_day": date(2026, 12, 1),
        "size": 2**40 + 1,
        "label": '投标 "quoted" \\ back',
        "code": "abc",
        "doc": {"b": [1, "二", None], "a": {"z": True}},
        "missing": None,
    }
    table.execute(text(insert_from_json("json_rows_probe", COLUMNS, "row")), {"row": json_row(values)})
    row = table.execute(text("select * from json_rows_probe")).mappings().one()
    assert {c: row[c] for c in COLUMNS} == values
    at: datetime = row["at"]
    assert at.astimezone(UTC) == datetime(2026, 11, 29, 8, 5, 7, 123456, tzinfo=UTC)
    assert row["kept"] == "default"  # columns not named keep their default


def test_a_value_too_long_for_its_column_is_refused_not_cut(table):
    with pytest.raises(DataError):
        table.execute(text(insert_from_json("json_rows_probe", ["code"], "row")), {"row": json_row({"code": "abcd"})})


def test_a_value_with_no_json_form_is_a_type_error():
    with pytest.raises(TypeError, match="bytes"):
        json_row({"blob": b"\x00"})
