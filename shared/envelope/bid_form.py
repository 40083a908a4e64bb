"""The plaintext of a sealed bid: a ZIP archive with ``bid-form.json`` at its root and ``attachments/``."""

from __future__ import annotations

import os
import secrets
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.envelope.codec import canonical_json, loads_strict
from shared.envelope.errors import EnvelopeRejected

BID_FORM_NAME = "bid-form.json"
ATTACHMENTS_DIR = "attachments/"
# A bid form is a few hundred bytes; the cap stops a compressed bomb from being inflated into memory.
MAX_BID_FORM_BYTES = 1024 * 1024
# Same bound as the lot's own prices (services/trading/lots/schemas.py).
MAX_PRICE_FEN = 10**15


class _Form(BaseModel):
    # strict: price_fen 1.5 or "100" must be refused, not coerced; money is integer fen (domain §6).
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ProjectManager(_Form):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    certificate_no: Annotated[str, Field(min_length=1, max_length=64)]


class BidForm(_Form):
    """投标函 (the bid letter's data): what the opening record reads out."""

    price_fen: Annotated[int, Field(ge=0, le=MAX_PRICE_FEN)]
    duration_days: Annotated[int, Field(gt=0, le=36500)]
    quality: Annotated[str, Field(min_length=1, max_length=200)]
    project_manager: ProjectManager
    # Lot-specific fields (e.g. a warranty period); the lot's declaration validates them, not this format.
    extra: dict[str, Any] = Field(default_factory=dict)


def _random_comment() -> bytes:
    # The signed header publishes plaintext_sha256 before the deadline. Without unpredictable bytes in the
    # plaintext, a bid with no attachments could be recovered by hashing candidate prices; 256 random bits in
    # the archive comment make that search hopeless.
    return secrets.token_hex(32).encode("ascii")


def build_plaintext_zip(form: BidForm, attachments: list[Path], *, out: Path | None = None) -> Path:
    """Write the plaintext archive; ``out`` defaults to a new temporary file the caller must delete.

    Attachments are stored as ``attachments/<file name>`` and streamed from disk by ``zipfile``.
    """
    names = [path.name for path in attachments]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"attachments with the same file name: {', '.join(duplicates)}")
    for path in attachments:
        if not path.is_file():
            raise ValueError(f"attachment is not a file: {path}")
    if out is None:
        fd, name = tempfile.mkstemp(prefix="jcbid-", suffix=".zip")
        os.close(fd)
        out = Path(name)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        archive.comment = _random_comment()
        archive.writestr(BID_FORM_NAME, canonical_json(form.model_dump(mode="json")))
        for path in attachments:
            archive.write(path, arcname=ATTACHMENTS_DIR + path.name)
    return out


def _bad(message: str) -> EnvelopeRejected:
    return EnvelopeRejected("bad_bid_form", message)


def _safe_entry(name: str) -> bool:
    if name == BID_FORM_NAME:
        return True
    if not name.startswith(ATTACHMENTS_DIR) or "\\" in name:
        return False
    # Parts "" come from "attachments/" itself or a trailing slash of a directory entry.
    return all(part not in {".", ".."} for part in name.split("/"))


def _describe(error: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in item['loc']) or '(root)'}: {item['msg']}" for item in error.errors())


def read_bid_form(zip_path: Path) -> BidForm:
    """Read and validate ``bid-form.json`` from a plaintext archive, refusing entries outside the layout."""
    try:
        with zipfile.ZipFile(zip_path) as archive:
            for name in archive.namelist():
                if not _safe_entry(name):
                    raise _bad(f"压缩包中有不允许的条目 {name!r}：只允许 {BID_FORM_NAME} 和 {ATTACHMENTS_DIR} 下的文件")
            try:
                info = archive.getinfo(BID_FORM_NAME)
            except KeyError:
                raise _bad(f"压缩包根目录缺少 {BID_FORM_NAME}") from None
            if info.file_size > MAX_BID_FORM_BYTES:
                raise _bad(f"{BID_FORM_NAME} 过大（{info.file_size} 字节，上限 {MAX_BID_FORM_BYTES}）")
            with archive.open(info) as member:
                # Bounded read: the size in the directory is the sender's claim, not a guarantee.
                data = member.read(MAX_BID_FORM_BYTES + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        # RuntimeError: password-protected entries; NotImplementedError: unsupported compression methods;
        # EOFError: truncated compressed data.
        raise _bad(f"不是可读取的 ZIP 压缩包：{exc}") from exc
    if len(data) > MAX_BID_FORM_BYTES:
        raise _bad(f"{BID_FORM_NAME} 过大（上限 {MAX_BID_FORM_BYTES} 字节）")
    try:
        raw = loads_strict(data)
    except (ValueError, UnicodeError) as exc:
        raise _bad(f"{BID_FORM_NAME} 不是有效的 UTF-8 JSON：{exc}") from exc
    try:
        return BidForm.model_validate(raw)
    except ValidationError as exc:
        raise _bad(f"{BID_FORM_NAME} 内容不符合投标函格式：{_describe(exc)}") from exc
