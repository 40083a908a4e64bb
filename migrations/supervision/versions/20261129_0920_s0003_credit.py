"""supervision credit (issue #5): bad-behaviour records

Revision ID: s0003_credit
Revises: s0002_ledger
Create Date: 2026-11-29 09:20:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "s0003_credit"
down_revision: str | None = "s0002_ledger"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "credit_records",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("subject_kind", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("subject_name", sa.String(length=200), nullable=False),
        sa.Column("law", sa.String(length=32), nullable=False),
        sa.Column("act", sa.Text(), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("decision", sa.Text(), nullable=False),
        sa.Column("decision_number", sa.String(length=100), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("ban_start", sa.Date(), nullable=True),
        sa.Column("ban_end", sa.Date(), nullable=True),
        sa.Column("published", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoke_reason", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("clock_timestamp()"), nullable=False
        ),
        sa.CheckConstraint(
            "law <> 'government_procurement' or ban_start is null or (ban_end is not null and ban_end + 1 >= ban_start + interval '1 year' and ban_end + 1 <= ban_start + interval '3 years')",
            name=op.f("ck_credit_records_gp_ban_one_to_three_years"),
        ),
        sa.CheckConstraint("law in ('bidding','government_procurement')", name=op.f("ck_credit_records_law")),
        sa.CheckConstraint("subject_kind in ('organisation','expert')", name=op.f("ck_credit_records_subject_kind")),
        sa.CheckConstraint(
            "(revoked_at is null) = (revoke_reason is null)", name=op.f("ck_credit_records_revocation_has_reason")
        ),
        sa.CheckConstraint(
            "ban_end is null or ban_end >= ban_start", name=op.f("ck_credit_records_ban_end_not_before_start")
        ),
        sa.CheckConstraint(
            "ban_end is null or ban_start is not null", name=op.f("ck_credit_records_ban_end_needs_start")
        ),
        sa.CheckConstraint(
            "published = (published_at is not null)", name=op.f("ck_credit_records_published_at_iff_published")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_records")),
        schema="supervision",
    )
    op.create_index(
        "ix_credit_records_platform", "credit_records", ["platform", "id"], unique=False, schema="supervision"
    )
    op.create_index(
        "ix_credit_records_subject",
        "credit_records",
        ["subject_id", "subject_kind"],
        unique=False,
        schema="supervision",
    )
    # Records are evidence: never deleted, and the decision never edited. An UPDATE may only add
    # the publication (once) and the revocation (once); everything else is refused by the database.
    op.execute("""
        create function supervision.guard_credit_record() returns trigger
        language plpgsql as $$
        begin
            if tg_op <> 'UPDATE' then
                raise exception 'supervision.credit_records are never deleted (% refused)', tg_op
                    using errcode = 'insufficient_privilege';
            end if;
            if (new.id, new.platform, new.subject_kind, new.subject_id, new.subject_name, new.law, new.act,
                new.legal_basis, new.decision, new.decision_number, new.department, new.decided_on,
                new.ban_start, new.ban_end, new.created_by, new.created_at)
               is distinct from
               (old.id, old.platform, old.subject_kind, old.subject_id, old.subject_name, old.law, old.act,
                old.legal_basis, old.decision, old.decision_number, old.department, old.decided_on,
                old.ban_start, old.ban_end, old.created_by, old.created_at)
               or (old.published and (new.published, new.published_at)
                   is distinct from (old.published, old.published_at))
               or (old.revoked_at is not null and (new.revoked_at, new.revoke_reason)
                   is distinct from (old.revoked_at, old.revoke_reason))
            then
                raise exception 'supervision.credit_records: only publication and revocation may be added'
                    using errcode = 'insufficient_privilege';
            end if;
            return new;
        end $$;
    """)
    op.execute("""
        create trigger credit_records_guard before update or delete on supervision.credit_records
        for each row execute function supervision.guard_credit_record();
    """)
    op.execute("""
        create trigger credit_records_no_truncate before truncate on supervision.credit_records
        for each statement execute function supervision.guard_credit_record();
    """)


def downgrade() -> None:
    op.execute("drop trigger if exists credit_records_no_truncate on supervision.credit_records")
    op.execute("drop trigger if exists credit_records_guard on supervision.credit_records")
    op.execute("drop function if exists supervision.guard_credit_record()")
    op.drop_index("ix_credit_records_subject", table_name="credit_records", schema="supervision")
    op.drop_index("ix_credit_records_platform", table_name="credit_records", schema="supervision")
    op.drop_table("credit_records", schema="supervision")
