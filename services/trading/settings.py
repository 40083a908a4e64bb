from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.db import PROJECT_ROOT
from shared.settings import ServiceSettings


class TradingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TRADING_", env_file=".env", extra="ignore")
    service_name: ClassVar[str] = "trading"

    # Where tender documents are kept (content-addressed, see shared/storage.py). Replicas must
    # share it (a network filesystem), or a deployment swaps in S3-compatible storage.
    storage_dir: Path = Field(default=PROJECT_ROOT / "var" / "blobs")
    # One tender document at most; the gateway refuses bodies over 200 MB before they get here.
    max_document_bytes: int = Field(default=200 * 1024 * 1024, gt=0)
