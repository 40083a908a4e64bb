"""A test token issuer: an ES256 key of our own, for services verified with a static key set.

Used to craft every kind of bad token; the e2e tests use real portal-issued tokens instead.
"""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwt

from shared.auth.deps import ISSUER


def _b64(n: int) -> str:
    return base64.urlsafe_b64encode(n.to_bytes(32, "big")).rstrip(b"=").decode()


@dataclass
class TestIssuer:
    __test__ = False  # a helper, not a test class, despite the name
    kid: str = "test-key-1"
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))

    @property
    def pem(self) -> str:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()

    @property
    def public_pem(self) -> str:
        return (
            self.key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    @property
    def jwk(self) -> dict[str, Any]:
        n = self.key.public_key().public_numbers()
        return {"kty": "EC", "crv": "P-256", "x": _b64(n.x), "y": _b64(n.y), "kid": self.kid, "alg": "ES256"}

    def claims(
        self,
        *,
        sub: str = "user-1",
        typ: str = "user",
        roles: list[str] | None = None,
        platform: str = "jincheng",
        org: str | None = None,
        aud: str | list[str] = "trading",
        scope: str | None = None,
        lifetime: int = 300,
        iat: int | None = None,
    ) -> dict[str, Any]:
        now = int(time.time()) if iat is None else iat
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": aud,
            "sub": sub,
            "iat": now,
            "exp": now + lifetime,
            "jti": secrets.token_hex(8),
            "typ": typ,
            "roles": roles or [],
            "org": org,
            "platform": platform,
        }
        if scope is not None:
            claims["scope"] = scope
        return claims

    def sign(self, claims: dict[str, Any], *, headers: dict[str, Any] | None = None) -> str:
        return jwt.encode(claims, self.pem, algorithm="ES256", headers={"kid": self.kid, **(headers or {})})

    def token(self, **kwargs: Any) -> str:
        return self.sign(self.claims(**kwargs))

    def headers(self, **kwargs: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(**kwargs)}"}
