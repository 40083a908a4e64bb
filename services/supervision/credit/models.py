"""Tables of supervision's credit: bad-behaviour records (不良行为记录)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Date, DateTime, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from services.supervision.db import Base

SUBJECT_KINDS = ("organisation", "expert")
LAWS = ("bidding", "government_procurement")


class CreditRecord(Base):
    """One decision against a bidder, agency or expert.

    Never deleted and never edited: a trigger (see the migration) refuses DELETE and TRUNCATE and
    lets an UPDATE only add the publication, once, and the revocation, once. A revoked record stays
    as evidence but has no effect.

    The ban, if any, runs from ``ban_start`` to ``ban_end`` *inclusive* (the last day of the ban,
    as decisions write it: "自…起至…止"); no ``ban_end`` means no end (e.g. 取消评标专家资格).
    """

    __tablename__ = "credit_records"
    __table_args__ = (
        CheckConstraint("subject_kind in ('organisation','expert')", name="subject_kind"),
        CheckConstraint("law in ('bidding','government_procurement')", name="law"),
        CheckConstraint("ban_end is null or ban_start is not null", name="ban_end_needs_start"),
        CheckConstraint("ban_end is null or ban_end >= ban_start", name="ban_end_not_before_start"),
        # 政府采购法 Art. 77 / 条例 Art. 78: a GP ban lasts 1 to 3 years. The application checks this
        # with a readable error; the database keeps the rule for anything that bypasses it.
        CheckConstraint(
            "law <> 'government_procurement' or ban_start is null or ("
            "ban_end is not null "
            "and ban_end + 1 >= ban_start + interval '1 year' "
            "and ban_end + 1 <= ban_start + interval '3 years')",
            name="gp_ban_one_to_three_years",
        ),
        CheckConstraint("published = (published_at is not null)", name="published_at_iff_published"),
        CheckConstraint("(revoked_at is null) = (revoke_reason is null)", name="revocation_has_reason"),
        # subject_id first: the public and list filters name a subject by id alone.
        Index("ix_credit_records_subject", "subject_id", "subject_kind"),
        Index("ix_credit_records_platform", "platform", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(32))
    subject_kind: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[str] = mapped_column(String(36))
    subject_name: Mapped[str] = mapped_column(String(200))
    law: Mapped[str] = mapped_column(String(32))
    act: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(Text)
    decision: Mapped[str] = mapped_column(Text)
    decision_number: Mapped[str] = mapped_column(String(100))
    department: Mapped[str] = mapped_column(String(100))
    decided_on: Mapped[date] = mapped_column(Date)
    ban_start: Mapped[date | None] = mapped_column(Date)
    ban_end: Mapped[date | None] = mapped_column(Date)
    published: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoke_reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("clock_timestamp()"))

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None
