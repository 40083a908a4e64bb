"""Byte-exact encodings of the format: canonical JSON, strict JSON parsing, strict base64.

The envelope is signed over bytes, so every encoding must have exactly one accepted form; otherwise two
implementations could disagree on what was signed.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

__all__ = ["b64decode_strict", "b64encode", "canonical_json", "loads_strict"]


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8 with non-ASCII written as is: the bytes that are signed.

    Byte-for-byte the same as :func:`shared.audit.outbox.canonical_json` (a test holds them together), but
    defined here because it is a published bidder format: it must not change when the audit helper does, and
    the bidder CLI should not import the web and database stack to get it. Unlike the audit helper it does
    not stringify unknown types: anything that is not plain JSON is a bug and raises ``TypeError``.
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode_strict(value: str) -> bytes:
    """Standard base64 with padding (RFC 4648 §4) and nothing else: no whitespace, no URL alphabet."""
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error) as exc:
        raise ValueError(f"not standard base64: {exc}") from exc
    # b64decode tolerates non-zero padding bits; re-encoding rejects that second spelling of the same bytes.
    if b64encode(raw) != value:
        raise ValueError("base64 is not in canonical form")
    return raw


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            # Parsers disagree on which duplicate wins; a signer and a verifier must never disagree.
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def loads_strict(data: bytes) -> Any:
    """Parse UTF-8 JSON, refusing duplicate keys and NaN/Infinity (which ``json`` accepts by default)."""
    text = data.decode("utf-8")
    return json.loads(text, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant)
