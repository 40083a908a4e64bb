from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from shared.db import PROJECT_ROOT
from shared.ed25519_keys import seed_from_setting
from shared.settings import DEV_SECRET_PREFIX, ServiceSettings

# The public development seed of the bid-receipt signing key (its SHA-256 is the Ed25519 seed); like
# every DEV_SECRET_PREFIX value it is refused in production.
DEV_RECEIPT_SIGNING_KEY = f"{DEV_SECRET_PREFIX}trading-receipt-signing-key"


class TradingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TRADING_", env_file=".env", extra="ignore")
    service_name: ClassVar[str] = "trading"

    # Where tender documents are kept (content-addressed, see shared/storage.py). Replicas must
    # share it (a network filesystem), or a deployment swaps in S3-compatible storage.
    storage_dir: Path = Field(default=PROJECT_ROOT / "var" / "blobs")
    # One tender document at most; the gateway refuses bodies over 200 MB before they get here.
    max_document_bytes: int = Field(default=200 * 1024 * 1024, gt=0)
    # One sealed bid (the whole JCBID1 envelope) at most, for every lot.
    max_bid_bytes: int = Field(default=200 * 1024 * 1024, gt=0)
    # PEM files of the CAs whose certificates may sign bids (数字证书互认), comma-separated; the
    # same list the portal accepts for certificate login, as a rule.
    trusted_ca_files: str = ""
    # Base64 of a 32-byte Ed25519 seed that signs bid receipts; empty means the development key
    # (refused in production).
    receipt_signing_key: str = ""
    # An Idempotency-Key whose submission has been in flight this long is taken to be abandoned
    # (the process died mid-upload), so a retry may take it over. Longer than the slowest honest
    # upload: 200 MiB at 1 Mbit/s takes about 27 minutes.
    idempotency_claim_seconds: float = Field(default=3600.0, gt=0)
    # Bid submissions in their database transactions at once, per process, each in a worker thread
    # of its own (services/trading/bids/submission.py). Few: the transactions take milliseconds,
    # and every extra runnable thread competes with the event loop, which reads the uploads, for
    # the interpreter lock (docs/adr/0007-bid-surge.md). At most the pool's size (10).
    bid_db_slots: int = Field(default=4, ge=1, le=10)
    # How long bidders have to confirm a published opening record; silence until then is
    # acceptance (电子招标投标办法 第三十二条). Local practice, not statute: configurable.
    opening_confirmation_minutes: int = Field(default=30, ge=1, le=7 * 24 * 60)
    # The opening hall's live feed (services/trading/opening/feed.py): how often each connection
    # looks for new events, how long one stream lasts before the client must reconnect (with
    # Last-Event-ID), and how long a quiet stream waits before a keep-alive comment.
    opening_feed_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    opening_feed_max_seconds: float = Field(default=900.0, gt=0)
    opening_feed_heartbeat_seconds: float = Field(default=15.0, gt=0)

    @field_validator("receipt_signing_key")
    @classmethod
    def _default_to_development_key(cls, value: str) -> str:
        value = value.strip()
        if not value:
            return DEV_RECEIPT_SIGNING_KEY
        seed_from_setting(
            value, what="receipt signing key"
        )  # a malformed key stops the service at start, not at the first bid
        return value

    def secret_values(self) -> dict[str, str]:
        return {**super().secret_values(), "receipt_signing_key": self.receipt_signing_key}

    def trusted_ca_paths(self) -> list[Path]:
        return [Path(p.strip()) for p in self.trusted_ca_files.split(",") if p.strip()]
