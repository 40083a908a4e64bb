"""Offline verification of portal-issued tokens, and the FastAPI dependencies built on it."""

from shared.auth.deps import (
    Authenticator,
    current_principal,
    ensure_city,
    ensure_platform_access,
    require,
    require_on_loop,
)
from shared.auth.principal import ROLES, Principal
from shared.auth.tokens import TokenRejected, verify_token

__all__ = [
    "ROLES",
    "Authenticator",
    "Principal",
    "TokenRejected",
    "current_principal",
    "ensure_city",
    "ensure_platform_access",
    "require",
    "require_on_loop",
    "verify_token",
]
