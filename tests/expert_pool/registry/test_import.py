"""CSV import: all rows or none, a per-row report, caps, one audit event, encrypted ID numbers."""

from __future__ import annotations

import csv
import hashlib
import io
import uuid
from typing import Any

import pytest
from sqlalchemy import text

from services.expert_pool.registry.csv_import import COLUMNS, ImportLimits, import_limits
from services.expert_pool.registry.identity_numbers import cipher_for, mask_id_number
from services.expert_pool.settings import DEV_ID_NUMBER_KEY
from shared.audit.outbox import change_digest
from shared.db import PROJECT_ROOT
from tests.expert_pool.factories import expert_body, make_id_number
from tests.expert_pool.registry.conftest import REGIONS, count_rows

CSV = {"Content-Type": "text/csv; charset=utf-8"}


def _row(specialties: list[str], n: int, **overrides: Any) -> dict[str, str]:
    body = expert_body(specialties, n, **overrides)
    body["specialties"] = ";".join(body["specialties"])
    body["account_subject"] = body["account_subject"] or ""
    return {k: str(v) for k, v in body.items()}


def _csv(rows: list[dict[str, str]], columns: tuple[str, ...] = COLUMNS, *, bom: bool = False) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return ("\ufeff" if bom else "").encode() + out.getvalue().encode()


def _post(client, body: bytes, headers: dict[str, str], **extra: str):
    return client.post("/experts/import", content=body, headers={**CSV, **headers, **extra})


def _wrong_check(number: str) -> str:
    return number[:-1] + ("1" if number[-1] != "1" else "2")


def _errors(details: dict) -> list[tuple]:
    return [(e["row"], e["column"], e["code"]) for e in details["errors"]]


# -- success --------------------------------------------------------------------------------------


def test_city_operator_imports_a_file_in_one_transaction_with_one_audit_event(
    expert_pool, user, outbox, connection, specialty, make_specialty
):
    other = make_specialty()
    rows = [
        _row([specialty], 1),
        {
            **_row([specialty], 2, region=REGIONS["gaoping"]),
            "specialties": f"{specialty}|{other}",
            "title_level": "副高级",
        },
        {**_row([other], 3, region=REGIONS["qinshui"]), "account_subject": "imported-3", "phone": "0356-2345678"},
    ]
    body = _csv(rows, bom=True) + b"\r\n,,,,,,,,,,,\r\n"  # Excel's BOM and trailing empty rows
    headers = {**user("operator", sub="city-op"), "X-Request-ID": "req-import-1"}
    response = _post(expert_pool, body, headers)

    assert response.status_code == 201, response.text
    result = response.json()
    assert result["imported"] == 3
    assert result["sha256"] == hashlib.sha256(body).hexdigest()
    ids = result["expert_ids"]
    stored = {
        str(r.id): r
        for r in connection.execute(
            text(
                "select id, platform, specialties, title_level, account_subject, phone, id_number_ciphertext, "
                "id_number_masked from expert_pool.experts"
            )
        )
    }
    assert set(stored) == set(ids)
    first, second, third = (stored[i] for i in ids)
    assert [r.platform for r in (first, second, third)] == ["jincheng", "gaoping", "qinshui"]
    assert second.specialties == [specialty, other]
    assert second.title_level == "associate_senior"
    assert (third.account_subject, third.phone) == ("imported-3", "0356-2345678")
    assert first.account_subject is None
    cipher = cipher_for(DEV_ID_NUMBER_KEY)
    assert cipher.open(bytes(third.id_number_ciphertext), uuid.UUID(ids[2])) == make_id_number(3, region="140521")
    assert third.id_number_masked == mask_id_number(make_id_number(3, region="140521"))
    assert count_rows(connection, "expert_employments") == 3

    [event] = outbox()
    change = {
        "rows": 3,
        "sha256": result["sha256"],
        "bytes": len(body),
        "by_platform": {"gaoping": 1, "jincheng": 1, "qinshui": 1},
        "expert_ids_sha256": hashlib.sha256("\n".join(ids).encode()).hexdigest(),
    }
    assert (event["action"], event["object_type"], event["object_id"]) == (
        "experts.imported",
        "expert_import",
        result["sha256"],
    )
    assert (event["actor"], event["platform"], event["request_id"]) == ("city-op", "jincheng", "req-import-1")
    assert event["change"] == change
    assert event["digest"] == change_digest(change)


def test_county_operator_imports_its_own_experts_without_optional_columns(expert_pool, user, specialty):
    columns = tuple(c for c in COLUMNS if c != "account_subject")
    rows = [_row([specialty], n, region=REGIONS["gaoping"]) for n in range(4)]
    response = _post(expert_pool, _csv(rows, columns), user("operator", platform="gaoping"))
    assert response.status_code == 201, response.text
    listed = expert_pool.get("/experts", headers=user("operator", platform="gaoping")).json()["experts"]
    assert {e["id"] for e in listed} == set(response.json()["expert_ids"])


def test_columns_in_any_order_with_spaces_and_capitals(expert_pool, user, specialty):
    columns = tuple(reversed(COLUMNS))
    data = _csv([_row([specialty], 1)], columns).replace(b",name\r\n", b", Name \r\n", 1)
    response = _post(expert_pool, data, user("admin"))
    assert response.status_code == 201, response.text


def test_missing_content_type_is_taken_as_csv(expert_pool, user, specialty):
    response = expert_pool.post("/experts/import", content=_csv([_row([specialty], 1)]), headers=user("operator"))
    assert response.status_code == 201, response.text


# -- all or none ----------------------------------------------------------------------------------


def test_one_bad_row_refuses_the_whole_file(expert_pool, user, outbox, connection, specialty):
    rows = [_row([specialty], n) for n in range(5)]
    rows[3]["years_experience"] = "6"
    details = _assert_rejected(expert_pool, user("operator"), _csv(rows))
    assert details == {
        "rows": 5,
        "error_count": 1,
        "truncated": False,
        "errors": [
            {
                "row": 5,
                "column": "years_experience",
                "code": "expert_not_qualified",
                "message": "从事相关领域工作须满8年（招标投标法 第三十七条）",
            }
        ],
    }
    assert count_rows(connection, "experts") == 0
    assert count_rows(connection, "expert_employments") == 0
    assert outbox() == []


def _assert_rejected(client, headers, body: bytes) -> dict:
    response = _post(client, body, headers)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "import_rejected"
    return dict(error["details"])


def test_every_kind_of_row_error_is_reported_by_row_and_column(
    expert_pool, user, outbox, connection, register, specialty, make_specialty
):
    retired = make_specialty(active=False)
    register("gaoping", n=50, account_subject="already-linked")  # in the table before the import
    gaoping = REGIONS["gaoping"]
    rows = [
        _row([specialty], 1, region=gaoping),  # row 2: fine
        {**_row([specialty], 2, region=gaoping), "id_number": _wrong_check(make_id_number(2, region=gaoping))},  # 3
        {**_row([specialty], 3, region=gaoping), "phone": "12345", "name": ""},  # 4
        {**_row([specialty], 4, region=gaoping), "title_level": "中级", "years_experience": "3"},  # 5
        {**_row([specialty], 5, region=gaoping), "specialties": f"{specialty};{retired};Z1"},  # 6
        _row([specialty], 1, region=gaoping),  # 7: same person as row 2
        _row([specialty], 50, region=gaoping),  # 8: registered already
        {**_row([specialty], 8, region=gaoping), "account_subject": "already-linked"},  # 9
        _row([specialty], 9, region=REGIONS["yangcheng"]),  # 10: not Gaoping's
        {**_row([specialty], 10, region=gaoping), "region_code": "110105"},  # 11
        {**_row([specialty], 11, region=gaoping), "employed_since": "2999-01-01"},  # 12
        {**_row([specialty], 12, region=gaoping), "years_experience": "ten", "employed_since": "1/1/2010"},  # 13
        {**_row([specialty], 13, region=gaoping), "employer_credit_code": "91140500MA0K12345"},  # 14
    ]
    body = _csv(rows)
    response = _post(expert_pool, body, user("operator", platform="gaoping"))
    assert response.status_code == 422, response.text
    details = response.json()["error"]["details"]
    assert _errors(details) == [
        (3, "id_number", "invalid"),
        (4, "name", "invalid"),
        (4, "phone", "invalid"),
        (5, "title_level", "expert_not_qualified"),
        (5, "years_experience", "expert_not_qualified"),
        (6, "specialties", "unknown_specialty"),
        (7, "id_number", "duplicate_in_file"),
        (8, "id_number", "expert_exists"),
        (9, "account_subject", "account_subject_taken"),
        (10, "region_code", "forbidden_platform"),
        (11, "region_code", "unknown_region"),
        (12, "employed_since", "invalid_period"),
        (13, "years_experience", "invalid"),
        (13, "employed_since", "invalid"),
        (14, "employer_credit_code", "invalid"),
    ]
    messages = {(e["row"], e["column"]): e["message"] for e in details["errors"]}
    assert messages[(3, "id_number")] == "身份证号码校验位错误"
    assert messages[(6, "specialties")] == f"专业代码不存在或已停用：{retired}、Z1"
    assert messages[(7, "id_number")] == "与第2行重复"
    assert details["rows"] == 13
    # the report names rows and columns, never the values: no ID number or phone comes back
    for row in rows:
        assert row["id_number"] not in response.text
        assert row["phone"] not in response.text
    assert count_rows(connection, "experts") == 1
    assert len(outbox()) == 1


def test_duplicate_portal_accounts_in_the_file(expert_pool, user, specialty):
    rows = [{**_row([specialty], n), "account_subject": "same"} for n in range(3)]
    details = _assert_rejected(expert_pool, user("operator"), _csv(rows))
    assert _errors(details) == [
        (3, "account_subject", "duplicate_in_file"),
        (4, "account_subject", "duplicate_in_file"),
    ]


def test_missing_cells_are_reported(expert_pool, user, specialty):
    rows = [{**_row([specialty], 1), "specialties": " ; | ", "employer_name": "", "title_level": ""}]
    details = _assert_rejected(expert_pool, user("operator"), _csv(rows))
    assert _errors(details) == [
        (2, "title_level", "invalid"),
        (2, "specialties", "invalid"),
        (2, "employer_name", "invalid"),
    ]


def test_nul_characters_are_refused_by_column(expert_pool, user, specialty):
    details = _assert_rejected(
        expert_pool, user("operator"), _csv([{**_row([specialty], 1), "title": "高级\x00工程师"}])
    )
    assert _errors(details) == [(2, "title", "invalid")]


def test_long_reports_are_truncated(expert_pool, user, specialty):
    rows = [{**_row([specialty], n), "phone": "1", "name": ""} for n in range(600)]
    details = _assert_rejected(expert_pool, user("operator"), _csv(rows))
    assert (details["error_count"], details["truncated"], len(details["errors"])) == (1200, True, 1000)


# -- the file's structure -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        (tuple(c for c in COLUMNS if c != "phone"), [(1, "phone", "header")]),
        ((*COLUMNS, "nickname"), [(1, "nickname", "header")]),
        ((*COLUMNS, "name"), [(1, "name", "header")]),
    ],
)
def test_header_problems(expert_pool, user, specialty, columns, expected):
    details = _assert_rejected(expert_pool, user("operator"), _csv([_row([specialty], 1)], columns))
    assert _errors(details) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", [(1, None, "header")]),
        (b"\r\n", [(1, c, "header") for c in COLUMNS if c != "account_subject"]),
        (_csv([]), [(None, None, "empty")]),
    ],
)
def test_empty_files(expert_pool, user, body, expected):
    details = _assert_rejected(expert_pool, user("operator"), body)
    assert _errors(details) == expected


def test_wrong_field_count_and_bad_quoting(expert_pool, user, specialty):
    good = _csv([_row([specialty], 1)])
    short = good + b"only,three,fields\r\n"
    details = _assert_rejected(expert_pool, user("operator"), short)
    assert _errors(details) == [(3, None, "malformed")]
    quoted = good + b'"unclosed,quote\r\n'
    details = _assert_rejected(expert_pool, user("operator"), quoted)
    assert _errors(details) == [(3, None, "malformed")]


def test_file_that_is_not_utf8_is_refused(expert_pool, user, specialty):
    body = _csv([_row([specialty], 1)]).decode().encode("gb18030")
    details = _assert_rejected(expert_pool, user("operator"), body)
    assert _errors(details) == [(None, None, "encoding")]


@pytest.mark.parametrize(
    "content_type", ["multipart/form-data; boundary=x", "application/json", "text/csv; charset=gbk"]
)
def test_other_media_types_are_415(expert_pool, user, expect_error, specialty, content_type):
    response = expert_pool.post(
        "/experts/import",
        content=_csv([_row([specialty], 1)]),
        headers={**user("operator"), "Content-Type": content_type},
    )
    assert expect_error(response, 415, "unsupported_media_type") == {"expected": "text/csv; charset=utf-8"}


# -- caps -----------------------------------------------------------------------------------------


@pytest.fixture
def small_caps(expert_pool):
    expert_pool.app.dependency_overrides[import_limits] = lambda: ImportLimits(max_rows=3, max_bytes=4096)
    yield
    expert_pool.app.dependency_overrides.clear()


def test_announced_size_over_the_cap_is_413_before_reading(expert_pool, user, outbox, expect_error, small_caps):
    response = _post(expert_pool, b"x" * 5000, user("operator"))
    assert expect_error(response, 413, "payload_too_large") == {"max_bytes": 4096, "max_rows": 3}
    assert outbox() == []


def test_streamed_body_over_the_cap_is_413(expert_pool, user, connection, expect_error, specialty, small_caps):
    data = _csv([{**_row([specialty], 1), "title": "x" * 5000}])

    def chunks():
        for i in range(0, len(data), 500):
            yield data[i : i + 500]

    # a generator body is sent chunked: no Content-Length to refuse it by
    response = expert_pool.post("/experts/import", content=chunks(), headers={**CSV, **user("operator")})
    expect_error(response, 413, "payload_too_large")
    assert count_rows(connection, "experts") == 0


def test_too_many_rows_is_413(expert_pool, user, connection, expect_error, specialty, small_caps):
    ok = _post(expert_pool, _csv([_row([specialty], n) for n in range(3)]), user("operator"))
    assert ok.status_code == 201, ok.text
    response = _post(expert_pool, _csv([_row([specialty], n) for n in range(10, 14)]), user("operator"))
    expect_error(response, 413, "payload_too_large")
    assert count_rows(connection, "experts") == 3


def test_default_caps():
    assert ImportLimits() == ImportLimits(max_rows=10_000, max_bytes=5 * 1024 * 1024)


# -- who may import -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["supervisor", "expert", "agency", "bidder"])
def test_only_staff_import(expert_pool, user, service, outbox, expect_error, specialty, role):
    body = _csv([_row([specialty], 1)])
    expect_error(_post(expert_pool, body, user(role)), 403, "forbidden_role")
    expect_error(_post(expert_pool, body, service("experts:draw")), 403, "wrong_token_type")
    expect_error(_post(expert_pool, body, {}), 401, "unauthenticated")
    assert outbox() == []


def test_county_operator_cannot_import_the_citys_experts(expert_pool, user, connection, specialty):
    details = _assert_rejected(expert_pool, user("operator", platform="gaoping"), _csv([_row([specialty], 1)]))
    assert _errors(details) == [(2, "region_code", "forbidden_platform")]
    assert count_rows(connection, "experts") == 0


def test_a_big_import_goes_through(expert_pool, user, connection, specialty):
    rows = [_row([specialty], n) for n in range(2000)]
    response = _post(expert_pool, _csv(rows), user("operator"))
    assert response.status_code == 201, response.text
    assert response.json()["imported"] == 2000
    assert count_rows(connection, "experts") == 2000
    assert len(set(response.json()["expert_ids"])) == 2000


def test_the_example_in_the_docs_imports(expert_pool, user, make_specialty):
    doc = (PROJECT_ROOT / "docs" / "experts.md").read_text(encoding="utf-8")
    example = doc.split("Example:\n\n```\n", 1)[1].split("```", 1)[0]
    make_specialty("A01")
    make_specialty("B0201")
    response = _post(expert_pool, example.encode(), user("operator"))
    assert response.status_code == 201, response.text
    [expert_id] = response.json()["expert_ids"]
    expert = expert_pool.get(f"/experts/{expert_id}", headers=user("operator")).json()
    assert (expert["title_level"], expert["specialties"], expert["account_subject"]) == (
        "associate_senior", ["A01", "B0201"], None,
    )  # fmt: skip
