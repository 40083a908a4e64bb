from __future__ import annotations

from typing import ClassVar

from pydantic import field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from shared.ed25519_keys import seed_from_setting
from shared.settings import DEV_SECRET_PREFIX, ServiceSettings

# The public development seed of the ledger's signing key (its SHA-256 is the Ed25519 seed); like
# every DEV_SECRET_PREFIX value it is refused in production.
DEV_LEDGER_SIGNING_KEY = f"{DEV_SECRET_PREFIX}supervision-ledger-signing-key"


class SupervisionSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SUPERVISION_", env_file=".env", extra="ignore")
    service_name: ClassVar[str] = "supervision"

    # Base64 of a 32-byte Ed25519 seed; empty means the development key (refused in production).
    ledger_signing_key: str = ""
    # A tree head is signed at least this often while the ledger grows.
    ledger_sign_interval_seconds: float = 10.0
    ledger_signer_enabled: bool = True

    @field_validator("ledger_signing_key")
    @classmethod
    def _default_to_development_key(cls, value: str) -> str:
        value = value.strip()
        if not value:
            return DEV_LEDGER_SIGNING_KEY
        if not value.startswith(DEV_SECRET_PREFIX):
            seed_from_setting(value, what="ledger signing key")  # a malformed key stops the service at start
        return value

    @field_validator("ledger_sign_interval_seconds")
    @classmethod
    def _positive_interval(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("ledger_sign_interval_seconds must be positive")
        return value

    @model_validator(mode="after")
    def _no_development_key_in_production(self) -> SupervisionSettings:
        # The base class checks secret_values() too; repeated here because validators' order
        # between base and subclass is not something to rely on for a signing key.
        if self.environment == "production" and self.ledger_signing_key.startswith(DEV_SECRET_PREFIX):
            raise ValueError("development default secrets refused in production: ledger_signing_key")
        return self

    def secret_values(self) -> dict[str, str]:
        return {**super().secret_values(), "ledger_signing_key": self.ledger_signing_key}
