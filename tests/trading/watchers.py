"""Everyone who must not learn who bid or downloaded before the deadline (secrecy tests)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def secrecy_watchers(tender: Any, service: Callable[..., dict[str, str]]) -> dict[str, dict[str, str]]:
    """The organiser, the tenderee, trading-centre staff, supervisors and county systems."""
    project = tender.project
    return {
        "agency": tender.organiser,
        "tenderee": tender.headers("tenderee", org=project["tenderee_org"]),
        "operator": tender.headers("operator"),
        "admin": tender.headers("admin"),
        "supervisor": tender.headers("supervisor"),
        "county system": service("trading:read"),
    }
