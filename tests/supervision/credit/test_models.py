"""The database itself keeps records: no deletion, no editing of a decision, and the GP rule."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from services.supervision.credit.ban_period import check_government_procurement_ban
from shared.errors import Unprocessable


def _refused(connection, sql: str, params: dict | None = None) -> str:
    with pytest.raises(DBAPIError) as refused, connection.begin_nested():
        connection.execute(text(sql), params or {})
    return str(refused.value)


@pytest.fixture
def record_id(create_record) -> int:
    return int(create_record()["id"])


def test_records_are_never_deleted(connection, record_id):
    assert "never deleted" in _refused(
        connection, "delete from supervision.credit_records where id = :id", {"id": record_id}
    )
    assert "never deleted" in _refused(connection, "truncate supervision.credit_records")


@pytest.mark.parametrize(
    "assignment",
    ["ban_end = ban_end + 1", "subject_id = 'X'", "act = act || '.'", "platform = 'gaoping'", "created_at = now()"],
)
def test_the_decision_cannot_be_edited(connection, record_id, assignment):
    sql = f"update supervision.credit_records set {assignment} where id = :id"  # noqa: S608 - fixed test inputs
    assert "only publication and revocation" in _refused(connection, sql, {"id": record_id})


def test_publication_and_revocation_are_added_once_and_kept(connection, record_id):
    params = {"id": record_id}
    connection.execute(
        text("update supervision.credit_records set published = true, published_at = now() where id = :id"), params
    )
    _refused(
        connection,
        "update supervision.credit_records set published = false, published_at = null where id = :id",
        params,
    )
    connection.execute(
        text("update supervision.credit_records set revoked_at = now(), revoke_reason = '复议撤销' where id = :id"),
        params,
    )
    _refused(connection, "update supervision.credit_records set revoke_reason = '另有理由' where id = :id", params)
    _refused(
        connection,
        "update supervision.credit_records set revoked_at = null, revoke_reason = null where id = :id",
        params,
    )


def _insert_gp(connection, start: date, end: date | None) -> None:
    connection.execute(
        text(
            "insert into supervision.credit_records (platform, subject_kind, subject_id, subject_name, law, act, "
            "legal_basis, decision, decision_number, department, decided_on, ban_start, ban_end, created_by) values "
            "('jincheng', 'organisation', '911405810000000000', '某公司', 'government_procurement', '行为', '依据', "
            "'决定', '文号', '部门', '2026-01-01', :start, :end, 'test')"
        ),
        {"start": start, "end": end},
    )


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (date(2026, 3, 1), date(2027, 2, 28)),
        (date(2026, 3, 1), date(2027, 2, 27)),
        (date(2026, 3, 1), date(2029, 2, 28)),
        (date(2026, 3, 1), date(2029, 3, 1)),
        (date(2024, 2, 29), date(2025, 2, 27)),
        (date(2024, 2, 29), date(2025, 2, 26)),
        (date(2024, 2, 29), date(2027, 2, 27)),
        (date(2024, 2, 29), date(2027, 2, 28)),
        (date(2026, 3, 1), None),
    ],
)
def test_the_tables_gp_check_agrees_with_the_application(connection, start, end):
    try:
        check_government_procurement_ban(start, end)
    except Unprocessable:
        with pytest.raises(IntegrityError), connection.begin_nested():
            _insert_gp(connection, start, end)
    else:
        with connection.begin_nested():
            _insert_gp(connection, start, end)
