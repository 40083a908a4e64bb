"""Tables of supervision's ledger (filled in by issue #5's ledger work)."""

from __future__ import annotations
