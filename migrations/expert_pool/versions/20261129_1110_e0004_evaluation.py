"""evaluation: sessions, venues, check-ins, score sheets, reports

Revision ID: e0004_evaluation
Revises: e0003_draws
Create Date: 2026-11-29 11:10:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401 - used once the tables are written
from alembic import op  # noqa: F401

revision: str = "e0004_evaluation"
down_revision: str | None = "e0003_draws"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
