"""Bulk import of experts from CSV: all rows or none (docs/experts.md, "CSV import").

The body is read as a stream: bytes are counted against the size cap and hashed on the way in, and
decoded and parsed incrementally, so a file over the cap is refused as soon as it passes it. The
parsed rows (at most ``max_rows``) are held, because nothing may be stored until every row has
been checked: format, entry rules, specialties, duplicates in the file and in the table. Then one
``COPY`` stores them all (:func:`services.expert_pool.registry.bulk.insert_experts`) and one audit
event records the import, not one per row.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from pydantic import ValidationError
from sqlalchemy.orm import Session

from services.expert_pool.audit import emit
from services.expert_pool.registry import errors
from services.expert_pool.registry.bulk import NewExpert, insert_experts
from services.expert_pool.registry.identity_numbers import IdNumberCipher
from services.expert_pool.registry.schemas import ExpertCreate
from services.expert_pool.registry.service import Problem, check_new_experts
from shared.auth import Principal
from shared.storage import PayloadTooLarge

CSV_MEDIA_TYPE = "text/csv"
COLUMNS = (
    "name",
    "id_number",
    "region_code",
    "phone",
    "title",
    "title_level",
    "years_experience",
    "specialties",
    "employer_credit_code",
    "employer_name",
    "employed_since",
    "account_subject",
)
OPTIONAL_COLUMNS = frozenset({"account_subject"})
# Spreadsheets kept by operators say 正高级/副高级 rather than our codes.
TITLE_LEVEL_ALIASES = {
    "正高级": "senior",
    "正高": "senior",
    "副高级": "associate_senior",
    "副高": "associate_senior",
    "中级": "intermediate",
    "初级": "other",
    "其他": "other",
}
_SPECIALTY_SEPARATORS = re.compile(r"[;|；]")
# A report long enough to fix a file by, short enough to send back.
MAX_REPORTED_ERRORS = 1000
# Defaults of EXPERT_POOL_IMPORT_MAX_ROWS / EXPERT_POOL_IMPORT_MAX_BYTES.
DEFAULT_MAX_ROWS = 10_000
DEFAULT_MAX_BYTES = 5 * 1024 * 1024
_READ_SIZE = 64 * 1024


@dataclass(frozen=True)
class ImportLimits:
    max_rows: int = DEFAULT_MAX_ROWS
    max_bytes: int = DEFAULT_MAX_BYTES


def import_limits(request: Request) -> ImportLimits:
    """The caps from the service settings (``import_max_rows``, ``import_max_bytes``) when it has
    them, else the defaults above."""
    settings = request.app.state.settings
    return ImportLimits(
        max_rows=settings.import_max_rows,
        max_bytes=settings.import_max_bytes,
    )


@dataclass(frozen=True)
class RowError:
    """One line of the error report. ``row`` counts records as a spreadsheet shows them: the header
    is row 1, the first expert row 2. ``column`` is null when the whole row or file is at fault."""

    row: int | None
    column: str | None
    code: str
    message: str

    def as_json(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "code": self.code, "message": self.message}


@dataclass
class ParsedFile:
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    sha256: str = ""
    size: int = 0


# --- reading the body ----------------------------------------------------------------------------


def check_media_type(request: Request) -> None:
    declared = request.headers.get("content-type")
    if declared is None:
        return
    media, _, params = declared.partition(";")
    charset = re.search(r"charset\s*=\s*\"?([A-Za-z0-9_-]+)", params)
    if media.strip().lower() != CSV_MEDIA_TYPE or (charset and charset.group(1).lower() not in {"utf-8", "utf8"}):
        raise errors.unsupported_media_type(f"{CSV_MEDIA_TYPE}; charset=utf-8")


def too_large(limits: ImportLimits) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"导入文件超过上限（{limits.max_bytes} 字节或 {limits.max_rows} 行）",
        details={"max_bytes": limits.max_bytes, "max_rows": limits.max_rows},
    )


class _CappedSource(io.RawIOBase):
    """The chunks as a byte stream that hashes what passes and stops past ``max_bytes``."""

    def __init__(self, chunks: Iterator[bytes], limits: ImportLimits) -> None:
        self._chunks = chunks
        self._limits = limits
        self._pending = memoryview(b"")
        self.digest = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]  # typeshed: WriteableBuffer
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self.size += len(chunk)
            if self.size > self._limits.max_bytes:
                raise too_large(self._limits)
            self.digest.update(chunk)
            self._pending = memoryview(chunk)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def read_csv(chunks: Iterator[bytes], limits: ImportLimits) -> tuple[ParsedFile, list[RowError]]:
    """The file's rows as ``(row number, {column: value})``; structural errors (encoding, quoting,
    header, field counts) stop the reading and are returned instead."""
    source = _CappedSource(chunks, limits)
    # utf-8-sig: Excel's "CSV UTF-8" starts with a byte-order mark.
    text = io.TextIOWrapper(io.BufferedReader(source, _READ_SIZE), encoding="utf-8-sig", errors="strict", newline="")
    reader = csv.reader(text, strict=True)
    parsed = ParsedFile()
    problems: list[RowError] = []
    row = 0
    header: list[str] = []
    try:
        for record in reader:
            row += 1
            if row == 1:
                header = [name.strip().lower() for name in record]
                problems = _header_problems(header)
                if problems:
                    break
                continue
            if not any(value.strip() for value in record):
                continue  # blank lines and all-empty rows (spreadsheets leave them at the end)
            if len(parsed.rows) >= limits.max_rows:
                raise too_large(limits)
            if len(record) != len(header):
                problems.append(
                    RowError(row, None, "malformed", f"字段数为{len(record)}，与表头的{len(header)}列不一致")
                )
                continue
            parsed.rows.append((row, dict(zip(header, record, strict=True))))
    except UnicodeDecodeError:
        # The decoder reads ahead of the parser, so the row is not known exactly.
        problems.append(RowError(None, None, "encoding", "文件不是有效的 UTF-8 文本，请以 UTF-8 编码保存"))
    except csv.Error as exc:
        problems.append(RowError(row + 1, None, "malformed", f"CSV 格式错误：{exc}"))
    if row == 0 and not problems:
        problems.append(RowError(1, None, "header", "文件为空：第一行须为表头"))
    parsed.sha256 = source.digest.hexdigest()
    parsed.size = source.size
    return parsed, problems


def _header_problems(header: list[str]) -> list[RowError]:
    problems = []
    for name, count in Counter(header).items():
        if count > 1:
            problems.append(RowError(1, name, "header", "表头中的列名重复"))
    for name in header:
        if name not in COLUMNS:
            problems.append(RowError(1, name, "header", "未知的列名"))
    for name in COLUMNS:
        if name not in header and name not in OPTIONAL_COLUMNS:
            problems.append(RowError(1, name, "header", "缺少必需的列"))
    return problems


# --- checking the rows ---------------------------------------------------------------------------


def _row_input(values: dict[str, str]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Text cells to the API's field values; cells with NUL characters are refused by column."""
    nul = [(column, "不能包含 NUL 字符") for column, value in values.items() if "\x00" in value]
    data: dict[str, Any] = {}
    for column, raw in values.items():
        value = raw.strip()
        if column == "specialties":
            data[column] = [code.strip() for code in _SPECIALTY_SEPARATORS.split(value) if code.strip()]
        elif column == "title_level":
            data[column] = TITLE_LEVEL_ALIASES.get(value, value)
        elif column == "account_subject":
            data[column] = value or None
        else:
            data[column] = value
    return data, nul


def _validation_errors(row: int, exc: ValidationError) -> list[RowError]:
    out = []
    for e in exc.errors(include_input=False):
        column = str(e["loc"][0]) if e["loc"] else None
        message = e["msg"].removeprefix("Value error, ")
        out.append(RowError(row, column, "missing" if e["type"] == "missing" else "invalid", message))
    return out


def validate_rows(rows: list[tuple[int, dict[str, str]]]) -> tuple[list[NewExpert], list[int], list[RowError]]:
    """Format checks, row by row: the experts that pass with their row numbers, and the errors."""
    experts: list[NewExpert] = []
    numbers: list[int] = []
    problems: list[RowError] = []
    for row, values in rows:
        data, nul = _row_input(values)
        if nul:
            problems.extend(RowError(row, column, "invalid", message) for column, message in nul)
            continue
        try:
            body = ExpertCreate.model_validate(data)
        except ValidationError as exc:
            problems.extend(_validation_errors(row, exc))
            continue
        experts.append(NewExpert.from_request(body))
        numbers.append(row)
    return experts, numbers, problems


def _problem_error(problem: Problem, numbers: list[int]) -> RowError:
    message = problem.message
    details = problem.details or {}
    if problem.code == "duplicate_in_file":
        message = f"与第{numbers[details['same_as_index']]}行重复"
    elif problem.code == "unknown_specialty":
        message = f"{message}：{'、'.join(details['codes'])}"
    return RowError(numbers[problem.index], problem.column, problem.code, message)


def _report(problems: list[RowError], rows: int) -> dict[str, Any]:
    ordered = sorted(problems, key=lambda p: (p.row or 0, COLUMNS.index(p.column) if p.column in COLUMNS else -1))
    return {
        "rows": rows,
        "error_count": len(ordered),
        "truncated": len(ordered) > MAX_REPORTED_ERRORS,
        "errors": [p.as_json() for p in ordered[:MAX_REPORTED_ERRORS]],
    }


@dataclass(frozen=True)
class Imported:
    expert_ids: list[Any]
    sha256: str


def import_experts(
    session: Session,
    principal: Principal,
    chunks: Iterator[bytes],
    limits: ImportLimits,
    cipher: IdNumberCipher,
) -> Imported:
    """Check the whole file, then store every expert in it, or refuse it whole with the report."""
    parsed, problems = read_csv(chunks, limits)
    if problems:
        raise errors.import_rejected(_report(problems, len(parsed.rows)))
    experts, numbers, problems = validate_rows(parsed.rows)
    if experts:
        problems.extend(_problem_error(p, numbers) for p in check_new_experts(session, principal, experts, cipher))
    if not parsed.rows:
        problems.append(RowError(None, None, "empty", "文件中没有专家数据行"))
    if problems:
        raise errors.import_rejected(_report(problems, len(parsed.rows)))
    ids = insert_experts(session, experts, cipher)
    by_platform = Counter(e.platform for e in experts)
    emit(
        session,
        principal=principal,
        action="experts.imported",
        object_type="expert_import",
        object_id=parsed.sha256,
        platform=principal.platform,
        change={
            "rows": len(experts),
            "sha256": parsed.sha256,
            "bytes": parsed.size,
            "by_platform": dict(sorted(by_platform.items())),
            # Which records the import made, without listing 10,000 ids in one event: the digest of
            # the ids in row order, as GET /experts shows them.
            "expert_ids_sha256": hashlib.sha256("\n".join(str(i) for i in ids).encode()).hexdigest(),
        },
    )
    return Imported(expert_ids=ids, sha256=parsed.sha256)
