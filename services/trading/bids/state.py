"""Process-wide parts of bid handling, built once with the app: the CAs trusted to sign bids and
the key that signs receipts. Both are read from settings at start, so a missing CA file or a
malformed key stops the service instead of failing the first bid."""

from __future__ import annotations

from fastapi import FastAPI, Request

from services.trading.bids.receipts import ReceiptSigner
from services.trading.settings import TradingSettings
from shared.certificates import TrustStore


def install(app: FastAPI, settings: TradingSettings) -> None:
    """``app.state.trust_store`` (``TRADING_TRUSTED_CA_FILES``) and ``app.state.receipt_signer``
    (``TRADING_RECEIPT_SIGNING_KEY``); a test or a deployment may replace either afterwards."""
    app.state.trust_store = TrustStore.from_pem_files(settings.trusted_ca_paths())
    app.state.receipt_signer = ReceiptSigner(settings.receipt_signing_key)


def trust_store(request: Request) -> TrustStore:
    store: TrustStore = request.app.state.trust_store
    return store


def receipt_signer(request: Request) -> ReceiptSigner:
    signer: ReceiptSigner = request.app.state.receipt_signer
    return signer
