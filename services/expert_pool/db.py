from sqlalchemy.orm import DeclarativeBase

from shared.audit.outbox import OutboxMixin
from shared.db import make_metadata


class Base(DeclarativeBase):
    metadata = make_metadata("expert_pool")


class OutboxEvent(OutboxMixin, Base):
    """Trading state changes, shipped to supervision by the relay."""
