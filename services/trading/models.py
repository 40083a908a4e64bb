"""Every trading table, imported in one place for Alembic."""

from services.trading.db import Base, OutboxEvent
from services.trading.venues.models import Venue

__all__ = ["Base", "OutboxEvent", "Venue"]
