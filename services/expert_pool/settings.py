from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from services.expert_pool.registry.identity_numbers import master_key_from_setting
from shared.settings import DEV_SECRET_PREFIX, ServiceSettings

# Public development value of the key that encrypts experts' ID numbers; refused in production.
DEV_ID_NUMBER_KEY = f"{DEV_SECRET_PREFIX}expert-id-number-key"


class ExpertPoolSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="EXPERT_POOL_", env_file=".env", extra="ignore")
    service_name: ClassVar[str] = "expert_pool"

    # Base64 of 32 bytes: AES-256-GCM key for ID numbers at rest (an HMAC key for look-ups is derived
    # from it). Empty means the development key.
    id_number_key: str = ""
    # Avoidance of repeat service: an expert drawn for the same tenderee more than this many times
    # in the period is not drawn for it again ([U] local practice: configurable).
    same_tenderee_limit: int = Field(default=3, ge=1)
    same_tenderee_period_days: int = Field(default=365, ge=1)
    # Employees of the tenderee, agency or a bidder within this many years are avoided (domain §3).
    former_employee_years: int = Field(default=3, ge=0)
    # How experts are told of a draw: "log" writes the message to the service log (the default);
    # deployments plug in SMS or voice calls behind the same outbox.
    notification_channel: str = "log"
    # Remote evaluation outage limits (domain §3, local rules [S]).
    outage_before_start_minutes: int = Field(default=120, ge=1)
    outage_during_minutes: int = Field(default=240, ge=1)
    # A member's score further than this from the committee mean (in points) is marked in the report.
    score_deviation_threshold: float = Field(default=10.0, gt=0)

    # CSV import caps (POST /experts/import): the whole file is checked in one transaction.
    import_max_rows: int = Field(default=10_000, ge=1)
    import_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1)

    @field_validator("id_number_key")
    @classmethod
    def _default_to_development_key(cls, value: str) -> str:
        value = value.strip() or DEV_ID_NUMBER_KEY
        master_key_from_setting(value)  # a malformed key stops the service at start, not at the first expert
        return value

    def secret_values(self) -> dict[str, str]:
        return {**super().secret_values(), "id_number_key": self.id_number_key}
