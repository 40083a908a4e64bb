"""Opening one envelope with its released key, outside any database transaction.

The ciphertext is streamed from the blob store through AES-GCM into a side file
(:func:`shared.envelope.open_envelope`), which keeps it only if the tag and the signed
``plaintext_sha256`` both verify; the bid form is then read from the archive, and the plaintext is
stored content-addressed (its name is the signed ``plaintext_sha256``) for the evaluation.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.trading.opening.errors import CiphertextUnavailable
from shared.envelope import (
    BidForm,
    EnvelopeRejected,
    SignedFields,
    content_key_for,
    iter_chunks,
    open_envelope,
    parse_key_release,
    read_bid_form,
)
from shared.envelope.codec import canonical_json
from shared.storage import BlobStore

log = logging.getLogger("services.trading.opening")


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


@dataclass(frozen=True)
class Opened:
    form: BidForm
    key_sha256: str
    plaintext_sha256: str


def key_sha256(release: dict[str, str], signed: SignedFields) -> str:
    """The digest of the key a release carries, once the release is shown to be for this envelope
    (raises :class:`EnvelopeRejected` ``wrong_key`` otherwise)."""
    key = content_key_for(parse_key_release(canonical_json(release)), signed)
    return hashlib.sha256(key).hexdigest()


def open_bid(store: BlobStore, signed: SignedFields, release: dict[str, str]) -> Opened:
    """Decrypt and read one bid; raises :class:`EnvelopeRejected` for anything the bidder must fix
    (``wrong_key``, ``plaintext_digest_mismatch``, ``bad_bid_form``)."""
    key = content_key_for(parse_key_release(canonical_json(release)), signed)
    if not store.exists(signed.ciphertext_sha256):
        log.error("ciphertext %s of lot %s is missing from the store", signed.ciphertext_sha256, signed.lot_id)
        raise CiphertextUnavailable("平台存储的投标文件密文无法读取，请联系交易中心（平台原因）")
    with tempfile.TemporaryDirectory(prefix="jincheng-opening-") as workdir:
        plaintext = open_envelope(store.open(signed.ciphertext_sha256), signed, key, Path(workdir) / "bid.zip")
        form = read_bid_form(plaintext)
        if _has_nul(form.model_dump(mode="json")):
            # Valid JSON, but PostgreSQL stores no NUL in text or JSONB: refused as the bidder's
            # form, not left to fail as a database error on every retry.
            raise EnvelopeRejected("bad_bid_form", "投标函中含有 NUL（U+0000）字符")
        with plaintext.open("rb") as handle:
            stored = store.put(iter_chunks(handle), max_bytes=signed.plaintext_length)
    if stored.sha256 != signed.plaintext_sha256:  # pragma: no cover - open_envelope verified this digest
        raise RuntimeError("stored plaintext differs from the verified plaintext")
    return Opened(form=form, key_sha256=hashlib.sha256(key).hexdigest(), plaintext_sha256=stored.sha256)
