"""Every expert-pool table, imported in one place for Alembic."""

from services.expert_pool.db import Base, OutboxEvent
from services.expert_pool.draws.models import Draw, DrawAssignment, DrawSnapshot, ExpertNotification
from services.expert_pool.evaluation.models import (
    Correction,
    EvaluationCheckIn,
    EvaluationMember,
    EvaluationReportRecord,
    EvaluationSession,
    EvaluationVenue,
    ExpertRating,
    LeaderVote,
    MisconductReport,
    Pause,
    Rejection,
    RejectionVote,
    ScoreSheet,
)
from services.expert_pool.registry.models import (
    Expert,
    ExpertConflict,
    ExpertEmployment,
    ExpertUnavailability,
    Specialty,
)

__all__ = [
    "Base",
    "Correction",
    "Draw",
    "DrawAssignment",
    "DrawSnapshot",
    "EvaluationCheckIn",
    "EvaluationMember",
    "EvaluationReportRecord",
    "EvaluationSession",
    "EvaluationVenue",
    "Expert",
    "ExpertConflict",
    "ExpertEmployment",
    "ExpertNotification",
    "ExpertRating",
    "ExpertUnavailability",
    "LeaderVote",
    "MisconductReport",
    "OutboxEvent",
    "Pause",
    "Rejection",
    "RejectionVote",
    "ScoreSheet",
    "Specialty",
]
