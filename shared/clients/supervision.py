"""Client for supervision (监管平台)."""

from __future__ import annotations

from typing import Any

from shared.clients.base import ServiceClient
from shared.contracts.audit import IngestResult


class SupervisionClient(ServiceClient):
    def ingest_events(self, events: list[dict[str, Any]]) -> IngestResult:
        # Supervision de-duplicates by event id, so this POST may be retried.
        response = self.request("POST", "/ingest/events", json={"events": events}, idempotent=True)
        response.raise_for_status()
        return IngestResult.model_validate(response.json())
