from sqlalchemy.orm import DeclarativeBase

from shared.audit.outbox import OutboxMixin
from shared.db import make_metadata


class Base(DeclarativeBase):
    metadata = make_metadata("supervision")


class OutboxEvent(OutboxMixin, Base):
    """Supervision's own state changes are audited like everyone else's (reads are not state changes)."""
