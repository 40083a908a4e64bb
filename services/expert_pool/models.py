"""Every expert-pool table, imported in one place for Alembic."""

from services.expert_pool.db import Base, OutboxEvent
from services.expert_pool.registry.models import (
    Expert,
    ExpertConflict,
    ExpertEmployment,
    ExpertUnavailability,
    Specialty,
)

__all__ = ["Base", "Expert", "ExpertConflict", "ExpertEmployment", "ExpertUnavailability", "OutboxEvent", "Specialty"]
