"""``verify_token()``: the one place a bearer token becomes a :class:`Principal`.

It pins ES256 before looking at anything else (so ``alg: none`` and the HS256-with-public-key trick
never reach a verifier), caps the size, requires every claim the platform relies on, and resolves
the key only through the configured :class:`KeySource` by ``kid``.
"""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any

from jose import jwk, jwt
from jose.backends.base import Key
from jose.exceptions import ExpiredSignatureError, JOSEError, JWTClaimsError

from shared.auth.keys import Jwk, KeySource
from shared.auth.principal import ROLES, Principal
from shared.auth.revocations import RevocationSource
from shared.errors import Unauthenticated
from shared.platforms import is_known_platform

ALGORITHM = "ES256"
MAX_TOKEN_BYTES = 8192
REQUIRED_CLAIMS = ("iss", "aud", "sub", "exp", "iat", "jti", "typ", "roles", "org", "platform")
# Tolerated clock skew between the portal and a service, in seconds.
LEEWAY_SECONDS = 10


class TokenRejected(Unauthenticated):
    code = "invalid_token"

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"访问令牌无效：{reason}",
            details={"reason": reason},
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )


def verify_token(
    token: str,
    *,
    audience: str,
    issuer: str,
    keys: KeySource,
    revocations: RevocationSource | None = None,
    now: float | None = None,
    wait: bool = True,
) -> Principal:
    """The principal a valid token names; :class:`TokenRejected` otherwise. ``wait=False`` (on an
    event loop): :class:`shared.auth.keys.WouldBlock` instead of fetching keys or revocations."""
    if len(token.encode()) > MAX_TOKEN_BYTES:
        raise TokenRejected("oversize")
    try:
        header = jwt.get_unverified_header(token)
    except JOSEError:
        raise TokenRejected("malformed") from None
    if header.get("alg") != ALGORITHM:
        raise TokenRejected("algorithm")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenRejected("missing kid")
    found = keys.get_key(kid, wait=wait)
    if found is None:
        raise TokenRejected("unknown kid")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            _verification_key(found),
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            options={
                "require_exp": True,
                "require_iat": True,
                "require_iss": True,
                "require_aud": True,
                "require_sub": True,
                "require_jti": True,
                "leeway": LEEWAY_SECONDS,
            },
        )
    except ExpiredSignatureError:
        raise TokenRejected("expired") from None
    except JWTClaimsError as exc:
        raise TokenRejected(f"claims: {exc}") from None
    except JOSEError:
        raise TokenRejected("signature") from None
    return _principal_from_claims(claims, revocations, time.time() if now is None else now, wait=wait)


def _verification_key(found: Jwk) -> Key:
    """The public key of a JWK, made once per key: turning the JWK's coordinates into a key took a
    quarter of every token check (docs/adr/0007-bid-surge.md). Cached by the JWK's content, not its
    ``kid``, so a key replaced under the same ``kid`` is never verified with the old one."""
    return _constructed(tuple(sorted((name, value) for name, value in found.items() if isinstance(value, str))))


@lru_cache(maxsize=64)
def _constructed(fields: tuple[tuple[str, str], ...]) -> Key:
    try:
        return jwk.construct(dict(fields), ALGORITHM)
    except (JOSEError, ValueError):  # not an EC P-256 public key: it verifies nothing
        raise TokenRejected("signature") from None


def _principal_from_claims(
    claims: dict[str, Any], revocations: RevocationSource | None, now: float, *, wait: bool
) -> Principal:
    missing = [c for c in REQUIRED_CLAIMS if c not in claims]
    if missing:
        raise TokenRejected(f"missing claims: {', '.join(missing)}")
    iat = claims["iat"]
    if not isinstance(iat, int) or iat > now + LEEWAY_SECONDS:
        raise TokenRejected("not yet valid")
    nbf = claims.get("nbf")
    if nbf is not None and (not isinstance(nbf, int) or nbf > now + LEEWAY_SECONDS):
        raise TokenRejected("not yet valid")
    typ = claims["typ"]
    if typ not in ("user", "service"):
        raise TokenRejected("typ")
    roles = claims["roles"]
    if not isinstance(roles, list) or any(r not in ROLES for r in roles):
        raise TokenRejected("roles")
    platform = claims["platform"]
    if not isinstance(platform, str) or not is_known_platform(platform):
        raise TokenRejected("platform")
    org = claims["org"]
    if org is not None and not isinstance(org, str):
        raise TokenRejected("org")
    scope = claims.get("scope", "")
    if not isinstance(scope, str):
        raise TokenRejected("scope")
    subject = claims["sub"]
    if revocations is not None:
        revoked_at = revocations.revoked_at(subject, wait=wait)
        if revoked_at is not None and iat <= revoked_at:
            raise TokenRejected("revoked")
    return Principal(
        subject=subject,
        typ=typ,
        platform=platform,
        roles=frozenset(roles),
        org=org,
        scopes=frozenset(scope.split()),
        token_id=str(claims["jti"]),
    )
