"""supervision ledger (issue #5)

Revision ID: s0002_ledger
Revises: bfa36b2019cf
Create Date: 2026-11-29 09:20:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "s0002_ledger"
down_revision: str | None = "bfa36b2019cf"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEDGER_TABLES = ("ledger_leaves", "ledger_nodes", "ledger_tree_heads")
WRITER = "supervision_writer"


def upgrade() -> None:
    op.create_table(
        "ledger_leaves",
        sa.Column("leaf_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("audit_event_id", sa.BigInteger(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(), nullable=False),
        sa.Column("chain_hash", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint("leaf_index >= 0", name=op.f("ck_ledger_leaves_leaf_index_non_negative")),
        sa.CheckConstraint("octet_length(leaf_hash) = 32", name=op.f("ck_ledger_leaves_leaf_hash_sha256")),
        sa.CheckConstraint("octet_length(chain_hash) = 32", name=op.f("ck_ledger_leaves_chain_hash_sha256")),
        sa.ForeignKeyConstraint(
            ["audit_event_id"],
            ["supervision.audit_events.id"],
            name=op.f("fk_ledger_leaves_audit_event_id_audit_events"),
        ),
        sa.PrimaryKeyConstraint("leaf_index", name=op.f("pk_ledger_leaves")),
        sa.UniqueConstraint("audit_event_id", name=op.f("uq_ledger_leaves_audit_event_id")),
        schema="supervision",
    )
    op.create_table(
        "ledger_nodes",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint("level between 1 and 62", name=op.f("ck_ledger_nodes_level_range")),
        sa.CheckConstraint('"index" >= 0', name=op.f("ck_ledger_nodes_index_non_negative")),
        sa.CheckConstraint("octet_length(hash) = 32", name=op.f("ck_ledger_nodes_hash_sha256")),
        sa.PrimaryKeyConstraint("level", "index", name=op.f("pk_ledger_nodes")),
        schema="supervision",
    )
    op.create_table(
        "ledger_tree_heads",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.LargeBinary(), nullable=False),
        sa.Column("chain_head", sa.LargeBinary(), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint("tree_size >= 0", name=op.f("ck_ledger_tree_heads_tree_size_non_negative")),
        sa.CheckConstraint("octet_length(root_hash) = 32", name=op.f("ck_ledger_tree_heads_root_hash_sha256")),
        sa.CheckConstraint("octet_length(chain_head) = 32", name=op.f("ck_ledger_tree_heads_chain_head_sha256")),
        sa.CheckConstraint("octet_length(signature) = 64", name=op.f("ck_ledger_tree_heads_signature_ed25519")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_tree_heads")),
        schema="supervision",
    )
    op.create_index(
        op.f("ix_ledger_tree_heads_tree_size"), "ledger_tree_heads", ["tree_size"], unique=False, schema="supervision"
    )

    # The ledger is evidence like the events it covers: the database refuses to change or remove it.
    op.execute("""
        create function supervision.refuse_ledger_change() returns trigger
        language plpgsql as $$
        begin
            raise exception 'supervision.% is append-only (% refused)', tg_table_name, tg_op
                using errcode = 'insufficient_privilege';
        end $$;
    """)
    for table in LEDGER_TABLES:
        op.execute(f"""
            create trigger {table}_append_only before update or delete on supervision.{table}
            for each row execute function supervision.refuse_ledger_change();
        """)
        op.execute(f"""
            create trigger {table}_no_truncate before truncate on supervision.{table}
            for each statement execute function supervision.refuse_ledger_change();
        """)

    # Triggers bind the application only if it cannot drop or disable them, i.e. does not own the
    # tables. Services connect as a login role that is a member of this one (see the ledger docs);
    # the tables stay owned by the role that runs migrations. Roles are cluster-wide, hence
    # "if not exists": another database on the same server may have created it already.
    op.execute(f"""
        do $$
        begin
            if not exists (select from pg_catalog.pg_roles where rolname = '{WRITER}') then
                create role {WRITER} nologin;
            end if;
        end $$;
    """)
    op.execute(f"grant usage on schema supervision to {WRITER}")
    tables = ", ".join(f"supervision.{t}" for t in ("audit_events", *LEDGER_TABLES))
    op.execute(f"grant select, insert on {tables} to {WRITER}")
    op.execute(
        f"grant usage on sequence supervision.audit_events_id_seq, supervision.ledger_tree_heads_id_seq to {WRITER}"
    )


def downgrade() -> None:
    # The role itself stays: it is cluster-wide and other databases on the server may still use it.
    op.execute(f"revoke all on supervision.audit_events from {WRITER}")
    op.execute(f"revoke all on sequence supervision.audit_events_id_seq from {WRITER}")
    op.execute(f"revoke usage on schema supervision from {WRITER}")
    for table in LEDGER_TABLES:
        op.execute(f"drop trigger if exists {table}_no_truncate on supervision.{table}")
        op.execute(f"drop trigger if exists {table}_append_only on supervision.{table}")
    op.execute("drop function if exists supervision.refuse_ledger_change()")
    op.drop_index(op.f("ix_ledger_tree_heads_tree_size"), table_name="ledger_tree_heads", schema="supervision")
    op.drop_table("ledger_tree_heads", schema="supervision")
    op.drop_table("ledger_nodes", schema="supervision")
    op.drop_table("ledger_leaves", schema="supervision")
