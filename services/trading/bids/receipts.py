"""Bid receipts (回执): what the platform signs when it accepts or withdraws a bid.

A receipt is a JSON object; the platform signs ``canonical_json(receipt)`` (the JCBID1 rules,
docs/bid-envelope.md §2) with its Ed25519 key, so a bidder can prove later, offline and against the
platform itself, what was accepted and when. The format is specified in docs/bid-receipt.md; every
field name and constant here is part of it.

``TRADING_RECEIPT_SIGNING_KEY`` is the base64 of a 32-byte seed (``openssl rand -base64 32``). The
development value (``DEV_SECRET_PREFIX…``) is a public string whose SHA-256 is the seed, so
development receipts verify but prove nothing; production refuses it (settings).
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shared.ed25519_keys import key_id, seed_from_setting
from shared.envelope.codec import canonical_json

RECEIPT_FORMAT = "JCRECEIPT1"
ALGORITHM = "Ed25519"
ReceiptKind = Literal["bid_accepted", "bid_withdrawn"]
# Receipt numbers carry the local date for people and 50 random bits for uniqueness. Random, not a
# counter: a dense sequence would let a bidder who submits twice learn how many bids arrived in
# between, which must stay secret until the deadline (电子招标投标办法 第二十一条).
_RECEIPT_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
SHANGHAI = ZoneInfo("Asia/Shanghai")

RECEIPT_LAYOUT = (
    "Ed25519 signature over canonical_json(receipt): UTF-8 JSON, keys sorted, no whitespace, non-ASCII "
    "written as is (docs/bid-envelope.md §2). Receipt fields: format, kind, receipt_no, platform, "
    "lot_id, bid_id, version, bidder_org, bidder_credit_code, recorded_at, ciphertext_sha256, "
    "ciphertext_length, plaintext_sha256, envelope_sha256, key_id. See docs/bid-receipt.md."
)


def format_time(moment: datetime) -> str:
    """UTC with microseconds and ``Z``: the database's own precision, one spelling."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_receipt_no(moment: datetime) -> str:
    day = moment.astimezone(SHANGHAI).strftime("%Y%m%d")
    # 32 symbols, so each random byte maps to one without bias.
    tail = "".join(_RECEIPT_ALPHABET[byte % 32] for byte in secrets.token_bytes(10))
    return f"JCR-{day}-{tail}"


@dataclass(frozen=True)
class SignedReceipt:
    body: dict[str, Any]
    signature: str  # base64 of the 64-byte Ed25519 signature

    @property
    def receipt_no(self) -> str:
        return str(self.body["receipt_no"])


class ReceiptSigner:
    """The platform's receipt key, loaded once per process."""

    def __init__(self, setting: str) -> None:
        self._key = Ed25519PrivateKey.from_private_bytes(seed_from_setting(setting, what="receipt signing key"))
        self.public_key = self._key.public_key()
        self.key_id = key_id(self.public_key)

    def sign(self, body: dict[str, Any]) -> SignedReceipt:
        body = {**body, "format": RECEIPT_FORMAT, "key_id": self.key_id}
        signature = self._key.sign(canonical_json(body))
        return SignedReceipt(body=body, signature=base64.b64encode(signature).decode("ascii"))

    def public_key_pem(self) -> str:
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()


def receipt_body(
    *,
    kind: ReceiptKind,
    receipt_no: str,
    platform: str,
    lot_id: str,
    bid_id: str,
    version: int,
    bidder_org: str,
    bidder_credit_code: str,
    recorded_at: datetime,
    ciphertext_sha256: str,
    ciphertext_length: int,
    plaintext_sha256: str,
    envelope_sha256: str,
) -> dict[str, Any]:
    """The fields of a receipt (``format`` and ``key_id`` are added when it is signed).

    A withdrawal receipt names the version it withdraws, with that version's digests, so it can be
    matched to the acceptance receipt it cancels."""
    return {
        "kind": kind,
        "receipt_no": receipt_no,
        "platform": platform,
        "lot_id": lot_id,
        "bid_id": bid_id,
        "version": version,
        "bidder_org": bidder_org,
        "bidder_credit_code": bidder_credit_code,
        "recorded_at": format_time(recorded_at),
        "ciphertext_sha256": ciphertext_sha256,
        "ciphertext_length": ciphertext_length,
        "plaintext_sha256": plaintext_sha256,
        "envelope_sha256": envelope_sha256,
    }


def verify_receipt(public_key: bytes, body: dict[str, Any], signature: str) -> bool:
    """What a bidder's tool does offline: the raw 32-byte public key, the receipt, its signature."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(base64.b64decode(signature), canonical_json(body))
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True
