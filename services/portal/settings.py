from __future__ import annotations

from typing import ClassVar

from pydantic import model_validator
from pydantic_settings import SettingsConfigDict

from shared.settings import DEV_SECRET_PREFIX, ServiceSettings

# Hard caps from the platform's security rules; settings may shorten lifetimes, never lengthen them.
MAX_USER_TOKEN_SECONDS = 15 * 60
MAX_SERVICE_TOKEN_SECONDS = 5 * 60


class PortalSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PORTAL_", env_file=".env", extra="ignore")
    service_name: ClassVar[str] = "portal"

    user_token_seconds: int = MAX_USER_TOKEN_SECONDS
    service_token_seconds: int = MAX_SERVICE_TOKEN_SECONDS
    refresh_token_seconds: int = 8 * 3600
    # Encrypts signing keys at rest in the portal schema.
    key_encryption_secret: str = ""
    lockout_threshold: int = 5
    lockout_seconds: int = 15 * 60
    cert_challenge_seconds: int = 120
    # PEM files of the CAs whose certificates we accept for login (数字证书互认), comma-separated.
    trusted_ca_files: str = ""

    @model_validator(mode="after")
    def _portal_checks(self) -> PortalSettings:
        if not self.key_encryption_secret:
            self.key_encryption_secret = f"{DEV_SECRET_PREFIX}portal-key-encryption"
            if self.environment == "production":
                raise ValueError("PORTAL_KEY_ENCRYPTION_SECRET must be set in production")
        if not 0 < self.user_token_seconds <= MAX_USER_TOKEN_SECONDS:
            raise ValueError(f"user_token_seconds must be in 1..{MAX_USER_TOKEN_SECONDS}")
        if not 0 < self.service_token_seconds <= MAX_SERVICE_TOKEN_SECONDS:
            raise ValueError(f"service_token_seconds must be in 1..{MAX_SERVICE_TOKEN_SECONDS}")
        return self

    def secret_values(self) -> dict[str, str]:
        return {**super().secret_values(), "key_encryption_secret": self.key_encryption_secret}

    def trusted_ca_paths(self) -> list[str]:
        return [p.strip() for p in self.trusted_ca_files.split(",") if p.strip()]
