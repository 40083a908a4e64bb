"""Every trading table, imported in one place for Alembic."""

from services.trading.catalogue.models import CatalogueVersion
from services.trading.db import Base, OutboxEvent
from services.trading.lots.models import Lot
from services.trading.projects.models import Project, ProjectCodeCounter
from services.trading.venues.models import Venue

__all__ = ["Base", "CatalogueVersion", "Lot", "OutboxEvent", "Project", "ProjectCodeCounter", "Venue"]
