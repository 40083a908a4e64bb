"""Signing keys and token minting.

Rotation keeps a retired key in the JWKS until every token it signed has expired, so services that
verify offline never see a valid token with an unknown key.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwt
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from services.portal.keys.models import SigningKey
from services.portal.settings import MAX_USER_TOKEN_SECONDS
from shared.auth.deps import ISSUER
from shared.auth.tokens import ALGORITHM, LEEWAY_SECONDS
from shared.db import db_now

# How long a retired key stays published: the longest token lifetime plus clock leeway.
RETIRED_KEY_GRACE = timedelta(seconds=MAX_USER_TOKEN_SECONDS + LEEWAY_SECONDS)


def _b64(n: int) -> str:
    return base64.urlsafe_b64encode(n.to_bytes(32, "big")).rstrip(b"=").decode()


def _public_jwk(key: ec.EllipticCurvePrivateKey, kid: str) -> dict[str, Any]:
    numbers = key.public_key().public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": _b64(numbers.x),
        "y": _b64(numbers.y),
        "kid": kid,
        "alg": ALGORITHM,
        "use": "sig",
    }


def create_key(session: Session, encryption_secret: str) -> SigningKey:
    private = ec.generate_private_key(ec.SECP256R1())
    kid = f"k-{uuid.uuid4().hex[:16]}"
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(encryption_secret.encode()),
    ).decode()
    key = SigningKey(kid=kid, private_pem=pem, public_jwk=_public_jwk(private, kid))
    session.add(key)
    session.flush()
    return key


def active_key(session: Session) -> SigningKey | None:
    return session.scalars(
        select(SigningKey).where(SigningKey.retired_at.is_(None)).order_by(SigningKey.created_at.desc()).limit(1)
    ).first()


def ensure_active_key(session: Session, encryption_secret: str) -> SigningKey:
    return active_key(session) or create_key(session, encryption_secret)


def rotate(session: Session, encryption_secret: str) -> tuple[SigningKey, list[str]]:
    """Retire every active key and create a new one. Returns the new key and the retired kids."""
    now = db_now(session)
    retired = list(session.scalars(select(SigningKey).where(SigningKey.retired_at.is_(None)).with_for_update()))
    for key in retired:
        key.retired_at = now
    new = create_key(session, encryption_secret)
    return new, [k.kid for k in retired]


def published_jwks(session: Session) -> list[dict[str, Any]]:
    cutoff = db_now(session) - RETIRED_KEY_GRACE
    keys = session.scalars(
        select(SigningKey)
        .where(or_(SigningKey.retired_at.is_(None), SigningKey.retired_at > cutoff))
        .order_by(SigningKey.created_at)
    )
    return [k.public_jwk for k in keys]


def _private_pem(key: SigningKey, encryption_secret: str) -> bytes:
    private = serialization.load_pem_private_key(key.private_pem.encode(), password=encryption_secret.encode())
    return private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


class KeyRing:
    """Decrypted active key, cached per process; re-read when the active kid changes (rotation)."""

    def __init__(self, encryption_secret: str) -> None:
        self.encryption_secret = encryption_secret
        self._cache: dict[str, bytes] = {}

    def signing_material(self, session: Session) -> tuple[str, bytes]:
        key = ensure_active_key(session, self.encryption_secret)
        if key.kid not in self._cache:
            self._cache = {key.kid: _private_pem(key, self.encryption_secret)}
        return key.kid, self._cache[key.kid]


def mint(
    session: Session,
    ring: KeyRing,
    *,
    subject: str,
    typ: str,
    audience: list[str],
    roles: list[str],
    org: str | None,
    platform: str,
    lifetime_seconds: int,
    scope: str | None = None,
) -> tuple[str, datetime]:
    """Sign a token with the active key; times come from the database clock."""
    kid, pem = ring.signing_material(session)
    now = db_now(session)
    expires = now + timedelta(seconds=lifetime_seconds)
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": audience if len(audience) > 1 else audience[0],
        "sub": subject,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int(expires.timestamp()),
        "jti": secrets.token_hex(16),
        "typ": typ,
        "roles": roles,
        "org": org,
        "platform": platform,
    }
    if scope is not None:
        claims["scope"] = scope
    return jwt.encode(claims, pem.decode(), algorithm=ALGORITHM, headers={"kid": kid}), expires
