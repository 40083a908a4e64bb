"""Client for trading (交易平台)."""

from __future__ import annotations

import uuid

from pydantic import ValidationError

from shared.clients.base import ServiceClient
from shared.contracts.experts import EvaluationReport
from shared.contracts.trading import LotSummary, OpeningResult
from shared.errors import DependencyUnavailable


class TradingClient(ServiceClient):
    def lot_summary(self, lot_id: uuid.UUID) -> LotSummary:
        """The lot as trading knows it. Trading's 404 (unknown, or outside the caller's platforms)
        comes through as ``not_found``; no answer at all as 503."""
        body = self.call_json("GET", f"/lots/{lot_id}/summary")
        try:
            return LotSummary.model_validate(body)
        except ValidationError as exc:
            raise DependencyUnavailable("交易平台返回的标段信息无法识别") from exc

    def suspend_lot(self, lot_id: uuid.UUID, *, reference: str, reason: str) -> None:
        """Ask trading to suspend the lot under ``reference``; repeating it changes nothing more."""
        self.call_json("PUT", f"/lots/{lot_id}/suspensions/{reference}", json={"reason": reason})

    def resume_lot(self, lot_id: uuid.UUID, *, reference: str) -> None:
        """Lift the suspension made under ``reference``; other suspensions of the lot stay."""
        self.call_json("DELETE", f"/lots/{lot_id}/suspensions/{reference}")

    def opening_result(self, lot_id: uuid.UUID) -> OpeningResult:
        """The opened (decrypted) bids of a lot, for its evaluation (scope ``trading:evaluation``)."""
        body = self.call_json("GET", f"/lots/{lot_id}/opening/result")
        try:
            return OpeningResult.model_validate(body)
        except ValidationError as exc:
            raise DependencyUnavailable("交易平台返回的开标结果无法识别") from exc

    def submit_evaluation_report(self, report: EvaluationReport) -> None:
        """Hand the committee's report to trading; sending the same report again changes nothing."""
        self.call_json("PUT", f"/lots/{report.lot_id}/evaluation-report", json=report.model_dump(mode="json"))
