"""Who is calling, as the token says: the only source of role, organisation and platform."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from shared.platforms import PLATFORMS

ROLES = ("bidder", "tenderee", "agency", "operator", "supervisor", "expert", "admin")
TokenType = Literal["user", "service"]


@dataclass(frozen=True)
class Principal:
    subject: str
    typ: TokenType
    platform: str
    roles: frozenset[str] = field(default_factory=frozenset)
    org: str | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    token_id: str = ""

    @property
    def is_city(self) -> bool:
        platform = PLATFORMS.get(self.platform)
        return platform is not None and platform.is_city

    @property
    def primary_role(self) -> str:
        """The role recorded on audit events: the first in the registry's order."""
        for role in ROLES:
            if role in self.roles:
                return role
        return "service" if self.typ == "service" else "none"

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))
