"""Scopes a machine client may hold. Later domains add theirs here, so the portal refuses typos."""

from __future__ import annotations

from shared.settings import SERVICE_NAMES

SERVICE_AUDIENCES = SERVICE_NAMES

KNOWN_SCOPES: frozenset[str] = frozenset(
    {f"audit:ingest:{name}" for name in SERVICE_NAMES}
    | {
        "trading:read",  # county sub-platforms reading trading data of their county
        "trading:write",  # county sub-platforms registering projects of their county
        "experts:draw",  # trading asking the expert pool for a draw
        "credit:read",  # trading / expert pool asking supervision for bad-behaviour records
        "trading:suspend",  # supervision suspending a lot under complaint
        "trading:evaluation",  # the expert pool reading opened bids and returning evaluation reports
    }
)
