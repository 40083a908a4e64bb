"""Ed25519 signing keys given in settings: supervision's tree heads, trading's bid receipts.

A setting holds the base64 of a 32-byte seed (``openssl rand -base64 32``). A development value
(``DEV_SECRET_PREFIX…``) is a public string whose SHA-256 is the seed, so development signatures are
verifiable but worthless; production settings refuse it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shared.settings import DEV_SECRET_PREFIX

SEED_SIZE = 32


def seed_from_setting(value: str, *, what: str = "signing key") -> bytes:
    if value.startswith(DEV_SECRET_PREFIX):
        return hashlib.sha256(value.encode()).digest()
    try:
        seed = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} must be base64 of a 32-byte Ed25519 seed") from None
    if len(seed) != SEED_SIZE:
        raise ValueError(f"{what} must decode to {SEED_SIZE} bytes, got {len(seed)}")
    return seed


def signing_key(setting: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(seed_from_setting(setting))


def public_key_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def key_id(key: Ed25519PublicKey) -> str:
    """First 8 bytes of SHA-256 of the raw public key, hex: names the key a signature was made with."""
    return hashlib.sha256(public_key_bytes(key)).hexdigest()[:16]


def load_public_key(text: str) -> Ed25519PublicKey:
    """A public key given as PEM or as base64 of the 32 raw bytes (what GET /ledger/public-key says)."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_public_key(text.encode())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("the PEM key is not an Ed25519 public key")
        return key
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("public key must be PEM or base64 of 32 raw Ed25519 bytes") from None
    if len(raw) != SEED_SIZE:
        raise ValueError(f"an Ed25519 public key has {SEED_SIZE} bytes, got {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)
