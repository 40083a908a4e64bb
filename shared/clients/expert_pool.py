"""Client for the expert pool (评标专家库)."""

from __future__ import annotations

from pydantic import TypeAdapter, ValidationError

from shared.clients.base import ServiceClient
from shared.contracts.experts import Specialty
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
