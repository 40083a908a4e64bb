"""Every supervision table, imported in one place for Alembic."""

from services.supervision.complaints import models as complaints_models  # noqa: F401
from services.supervision.credit import models as credit_models  # noqa: F401
from services.supervision.db import Base, OutboxEvent
from services.supervision.ingest.models import StoredEvent
from services.supervision.ledger import models as ledger_models  # noqa: F401

__all__ = ["Base", "OutboxEvent", "StoredEvent"]
