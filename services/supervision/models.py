"""Every supervision table, imported in one place for Alembic."""

from services.supervision.db import Base, OutboxEvent
from services.supervision.ingest.models import StoredEvent

__all__ = ["Base", "OutboxEvent", "StoredEvent"]
