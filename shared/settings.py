"""One settings base for every service.

Each service subclasses :class:`ServiceSettings` with its own env prefix (``TRADING_`` …). The
database URL falls back to the unprefixed ``DATABASE_URL`` so one variable configures the whole
platform, while ``TRADING_DATABASE_URL`` can still point one service elsewhere.
"""

from __future__ import annotations

import os
from typing import ClassVar, Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Development defaults are public knowledge (they are in this file); running with them anywhere but
# development would hand the platform to whoever reads the source.
DEV_SECRET_PREFIX = "dev-insecure-"

SERVICE_NAMES = ("portal", "trading", "expert_pool", "supervision")
ServiceName = Literal["portal", "trading", "expert_pool", "supervision"]

DEFAULT_PORTS: dict[str, int] = {"portal": 8000, "trading": 8001, "expert_pool": 8002, "supervision": 8003}


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # Every subclass names itself; the name is also its schema, its token audience and its client id.
    service_name: ClassVar[str] = ""

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = Field(default="", description="SQLAlchemy URL; empty means DATABASE_URL")
    host: str = "127.0.0.1"
    port: int = 0
    portal_url: str = "http://127.0.0.1:8000"
    supervision_url: str = "http://127.0.0.1:8003"
    trading_url: str = "http://127.0.0.1:8001"
    expert_pool_url: str = "http://127.0.0.1:8002"
    # Credentials this service uses to obtain its own service token from the portal.
    client_id: str = ""
    client_secret: str = ""
    # How long verified JWKS keys and the revocation list are trusted before refetching.
    jwks_cache_seconds: float = 300.0
    revocation_cache_seconds: float = 5.0
    # Audit relay: how often it looks for undelivered events, and the cap on its backoff.
    relay_interval_seconds: float = 0.5
    relay_max_backoff_seconds: float = 10.0
    relay_enabled: bool = True
    http_timeout_seconds: float = 5.0
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _fill_and_check(self) -> ServiceSettings:
        if not self.database_url:
            self.database_url = os.environ.get("DATABASE_URL", "")
        if not self.port:
            self.port = DEFAULT_PORTS[self.service_name]
        if not self.client_id:
            self.client_id = f"svc-{self.service_name}"
        if not self.client_secret:
            self.client_secret = f"{DEV_SECRET_PREFIX}{self.service_name}-secret"
        if self.environment == "production":
            insecure = [name for name, value in self.secret_values().items() if value.startswith(DEV_SECRET_PREFIX)]
            if insecure:
                raise ValueError(f"development default secrets refused in production: {', '.join(insecure)}")
        return self

    def secret_values(self) -> dict[str, str]:
        """Secrets that must not keep their development default outside development."""
        return {"client_secret": self.client_secret}

    def sqlalchemy_url(self) -> str:
        return normalise_database_url(self.database_url)


def normalise_database_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs (what libpq tools print) and select the psycopg 3 driver."""
    if not url:
        raise RuntimeError("no database configured: set DATABASE_URL (make run and make test start one for you)")
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.removeprefix("postgres://")
    return url
