"""draws: requests, commitments, eligible snapshots, assignments, notifications

Revision ID: e0003_draws
Revises: e0002_registry
Create Date: 2026-11-29 11:10:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401 - used once the tables are written
from alembic import op  # noqa: F401

revision: str = "e0003_draws"
down_revision: str | None = "e0002_registry"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
