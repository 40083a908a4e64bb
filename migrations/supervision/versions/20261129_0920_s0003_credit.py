"""supervision credit (issue #5)

Revision ID: s0003_credit
Revises: s0002_ledger
Create Date: 2026-11-29 09:20:00+00:00
"""

from collections.abc import Sequence

revision: str = "s0003_credit"
down_revision: str | None = "s0002_ledger"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
