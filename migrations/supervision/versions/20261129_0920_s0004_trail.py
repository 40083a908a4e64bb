"""supervision trail (issue #5): indexes for searching the audit trail

Every trail query pages by id (``... and id > :cursor order by id limit :n``), so every filter
column gets a composite index ending in ``id``: the scan starts at the cursor and stops after n
rows, however long the ledger grows. ``(project_id, occurred_at, id)`` serves the per-project
timeline, which is ordered by occurrence.

Time windows get ``(date_trunc('day', occurred_at, 'UTC'), id) include (occurred_at)`` rather than
``(occurred_at, id)``: ids follow arrival, not occurrence, so "occurred since 09:00, by id" from an
``(occurred_at, id)`` index means sorting the whole window (or, as the planner preferred, walking
the primary key from the start: 1.3 s for "the last 24 hours" at 2M events). Within one day's
entries the ids are in order, so one probe per day finds the window's exact id range
(``services/supervision/trail/service.py``) and the page is then an ordinary id-range scan.

``(object_type, object_id)`` becomes ``(object_type, object_id, id)`` for the same reason, and the
platform index, always ``(platform, id)``, loses its misleading ``_received`` suffix. Plain
``create index``, which holds ingestion back while it builds: fine while the table is small (all
of its secondary indexes over 10M rows took 4 to 7 minutes to build here).

Revision ID: s0004_trail
Revises: s0003_credit
Create Date: 2026-11-29 09:20:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "s0004_trail"
down_revision: str | None = "s0003_credit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "supervision"
TABLE = "audit_events"

# name -> columns; all created here and dropped again on downgrade.
NEW_INDEXES: dict[str, list[str]] = {
    "ix_audit_events_project_timeline": ["project_id", "occurred_at", "id"],
    "ix_audit_events_lot": ["lot_id", "id"],
    "ix_audit_events_organisation": ["organisation", "id"],
    "ix_audit_events_actor": ["actor", "id"],
    "ix_audit_events_action": ["action", "id"],
    "ix_audit_events_source": ["source", "id"],
}


def upgrade() -> None:
    op.execute(f"alter index {SCHEMA}.ix_audit_events_platform_received rename to ix_audit_events_platform")
    op.drop_index("ix_audit_events_object", table_name=TABLE, schema=SCHEMA)
    op.create_index("ix_audit_events_object", TABLE, ["object_type", "object_id", "id"], schema=SCHEMA)
    for name, columns in NEW_INDEXES.items():
        op.create_index(name, TABLE, columns, schema=SCHEMA)
    op.create_index(
        "ix_audit_events_occurred_day",
        TABLE,
        [sa.text("date_trunc('day', occurred_at, 'UTC')"), "id"],
        schema=SCHEMA,
        postgresql_include=["occurred_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_audit_events_occurred_day", table_name=TABLE, schema=SCHEMA)
    for name in reversed(NEW_INDEXES):
        op.drop_index(name, table_name=TABLE, schema=SCHEMA)
    op.drop_index("ix_audit_events_object", table_name=TABLE, schema=SCHEMA)
    op.create_index("ix_audit_events_object", TABLE, ["object_type", "object_id"], schema=SCHEMA)
    op.execute(f"alter index {SCHEMA}.ix_audit_events_platform rename to ix_audit_events_platform_received")
