"""Tables of supervision's credit (filled in by issue #5's credit work)."""

from __future__ import annotations
