"""supervision ledger (issue #5)

Revision ID: s0002_ledger
Revises: bfa36b2019cf
Create Date: 2026-11-29 09:20:00+00:00
"""

from collections.abc import Sequence

revision: str = "s0002_ledger"
down_revision: str | None = "bfa36b2019cf"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
