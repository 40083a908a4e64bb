"""What the expert pool tells other services (trading, when it asks for a draw)."""

from __future__ import annotations

from pydantic import BaseModel


class Specialty(BaseModel):
    """One code of the specialty list (评标专业) that draws are requested by."""

    code: str
    name: str
    parent_code: str | None
    active: bool
