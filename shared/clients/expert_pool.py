"""Client for the expert pool (评标专家库)."""

from __future__ import annotations

import uuid

from pydantic import TypeAdapter, ValidationError

from shared.clients.base import ServiceClient
from shared.contracts.experts import DrawRequest, DrawSummary, Specialty
from shared.errors import DependencyUnavailable

_SPECIALTIES = TypeAdapter(list[Specialty])


class ExpertPoolClient(ServiceClient):
    def specialties(self) -> list[Specialty]:
        """The specialty code list (service token with scope ``experts:draw``)."""
        body = self.call_json("GET", "/specialties")
        try:
            return _SPECIALTIES.validate_python(body)
        except ValidationError as exc:
            raise DependencyUnavailable("评标专家库返回的专业列表无法识别") from exc

    def request_draw(self, request: DrawRequest, *, idempotency_key: str) -> DrawSummary:
        """Ask for a committee for a lot. The key makes a retry return the same draw, never a
        second panel (a draw cannot be repeated to get other experts)."""
        body = self.call_json(
            "POST",
            "/draws",
            json=request.model_dump(mode="json"),
            headers={"Idempotency-Key": idempotency_key},
            idempotent=True,  # the expert pool de-duplicates by the key
        )
        return _decode_draw(body)

    def draw(self, draw_id: uuid.UUID) -> DrawSummary:
        """Counts and status of a draw (never names while the list is sealed)."""
        return _decode_draw(self.call_json("GET", f"/draws/{draw_id}"))


def _decode_draw(body: object) -> DrawSummary:
    try:
        return DrawSummary.model_validate(body)
    except ValidationError as exc:
        raise DependencyUnavailable("评标专家库返回的抽取记录无法识别") from exc
