"""Client for supervision (监管平台)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, TypeVar

from pydantic import ValidationError

from shared.clients.base import ServiceCallError, ServiceClient
from shared.contracts.audit import IngestResult
from shared.contracts.credit import (
    CreditStatus,
    CreditStatusBatch,
    CreditStatusBatchRequest,
    CreditSubject,
    SubjectKind,
)
from shared.errors import DependencyUnavailable

_Answer = TypeVar("_Answer", CreditStatus, CreditStatusBatch)


class SupervisionClient(ServiceClient):
    def ingest_events(self, events: list[dict[str, Any]]) -> IngestResult:
        # Supervision de-duplicates by event id, so this POST may be retried.
        response = self.request("POST", "/ingest/events", json={"events": events}, idempotent=True)
        response.raise_for_status()
        return IngestResult.model_validate(response.json())

    def credit_status(self, subject_kind: SubjectKind, subject_id: str, *, on: date | None = None) -> CreditStatus:
        """May this organisation bid, may this expert be drawn (token scope ``credit:read``)?

        Raises :class:`DependencyUnavailable` when supervision cannot give a usable answer: the
        caller must refuse to proceed, never assume "clean". An invalid ``subject_id`` raises
        pydantic's ``ValidationError`` before any call.
        """
        subject = CreditSubject(subject_kind=subject_kind, subject_id=subject_id)
        params = subject.model_dump() | ({"on": on.isoformat()} if on else {})
        body = self._credit_call("GET", "/credit/status", params=params)
        status = self._decode(CreditStatus, body)
        if (status.subject_kind, status.subject_id) != (subject.subject_kind, subject.subject_id) or (
            on is not None and status.on != on
        ):
            raise _unusable("answer is about another subject or date")
        return status

    def credit_status_batch(self, subjects: Sequence[CreditSubject], *, on: date | None = None) -> CreditStatusBatch:
        """:meth:`credit_status` for up to 500 subjects; one result per subject, in order."""
        request = CreditStatusBatchRequest(on=on, subjects=list(subjects))
        # A read, so retrying it after a lost answer is harmless.
        body = self._credit_call("POST", "/credit/status:batch", json=request.model_dump(mode="json"), idempotent=True)
        batch = self._decode(CreditStatusBatch, body)
        asked = [(s.subject_kind, s.subject_id) for s in request.subjects]
        answered = [(s.subject_kind, s.subject_id) for s in batch.results]
        # A short or reordered answer would let someone banned pass as someone else's "clean".
        if answered != asked or (on is not None and batch.on != on) or any(s.on != batch.on for s in batch.results):
            raise _unusable("answer does not match the subjects or date asked about")
        return batch

    def _credit_call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            return self.call_json(method, path, **kwargs)
        except ServiceCallError as exc:
            # A 5xx (or an answer that is not our error body) means supervision could not judge;
            # 4xx errors are the caller's to fix and keep their code.
            if exc.status_code >= 500:
                raise DependencyUnavailable(
                    "监管平台暂时无法提供信用信息，请稍后重试",
                    details={"service": "supervision", "status": exc.status_code, "code": exc.code},
                ) from exc
            raise

    @staticmethod
    def _decode(model: type[_Answer], body: Any) -> _Answer:
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            raise _unusable("answer does not match the credit contract") from exc


def _unusable(why: str) -> DependencyUnavailable:
    return DependencyUnavailable(
        "监管平台返回的信用信息无法使用，请稍后重试", details={"service": "supervision", "reason": why}
    )
