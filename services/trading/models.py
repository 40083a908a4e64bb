"""Every trading table, imported in one place for Alembic."""

from services.trading.bids.models import Bid, BidDeposit, BidReceipt, BidSubmissionKey, BidVersion
from services.trading.catalogue.models import CatalogueVersion
from services.trading.db import Base, OutboxEvent
from services.trading.documents.models import Document, DocumentDownload
from services.trading.evaluation.models import EvaluationReportRecord, ExpertDrawRequest
from services.trading.lots.models import Lot
from services.trading.notices.models import Clarification, Notice, NoticeLot, Notification, Objection
from services.trading.opening.models import Opening, OpeningBid, OpeningEvent, OpeningObjection
from services.trading.projects.models import Project, ProjectCodeCounter
from services.trading.venues.models import Venue

__all__ = [
    "Base",
    "Bid",
    "BidDeposit",
    "BidReceipt",
    "BidSubmissionKey",
    "BidVersion",
    "CatalogueVersion",
    "Clarification",
    "Document",
    "DocumentDownload",
    "EvaluationReportRecord",
    "ExpertDrawRequest",
    "Lot",
    "Notice",
    "NoticeLot",
    "Notification",
    "Objection",
    "Opening",
    "OpeningBid",
    "OpeningEvent",
    "OpeningObjection",
    "OutboxEvent",
    "Project",
    "ProjectCodeCounter",
    "Venue",
]
