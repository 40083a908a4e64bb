"""The base of every request body: unknown fields refused, NUL characters refused.

PostgreSQL cannot store U+0000 in text or JSONB; letting one through turns a client's mistake into
a database error. Refusing it here gives the client a 422 that names the field.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator


def _find_nul(value: Any, path: str = "") -> str | None:
    if isinstance(value, str):
        return path or "body" if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _find_nul(key, f"{path}.{key}" if path else str(key)) or _find_nul(
                item, f"{path}.{key}" if path else str(key)
            )
            if found:
                return found
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = _find_nul(item, f"{path}[{index}]")
            if found:
                return found
    return None


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _refuse_nul(cls, data: Any) -> Any:
        where = _find_nul(data)
        if where is not None:
            raise ValueError(f"text must not contain NUL (U+0000) characters: {where}")
        return data
