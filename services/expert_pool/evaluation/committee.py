"""What the evaluation needs from the draw (services/expert_pool/draws/service.py), in one place:
the lot's accepted committee, revealing the draw once the report is signed, voiding it when the
evaluation is sealed."""

from __future__ import annotations

from services.expert_pool.draws.service import CommitteeMember, accepted_committee, reveal_for_lot, void_for_lot

__all__ = ["CommitteeMember", "accepted_committee", "reveal_for_lot", "void_for_lot"]
