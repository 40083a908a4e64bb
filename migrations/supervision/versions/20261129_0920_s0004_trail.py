"""supervision trail (issue #5)

Revision ID: s0004_trail
Revises: s0003_credit
Create Date: 2026-11-29 09:20:00+00:00
"""

from collections.abc import Sequence

revision: str = "s0004_trail"
down_revision: str | None = "s0003_credit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
