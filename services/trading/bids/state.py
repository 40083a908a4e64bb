"""Process-wide parts of bid handling, built once with the app: the CAs trusted to sign bids, the
key that signs receipts, and the threads that run the submissions' blocking steps. The first two are
read from settings at start, so a missing CA file or a malformed key stops the service instead of
failing the first bid."""

from __future__ import annotations

import threading
import weakref
from concurrent.futures import ThreadPoolExecutor

from fastapi import FastAPI, Request

from services.trading.bids.receipts import ReceiptSigner
from services.trading.settings import TradingSettings
from shared.certificates import TrustStore


def install(app: FastAPI, settings: TradingSettings) -> None:
    """``app.state.trust_store`` (``TRADING_TRUSTED_CA_FILES``) and ``app.state.receipt_signer``
    (``TRADING_RECEIPT_SIGNING_KEY``); a test or a deployment may replace either afterwards."""
    app.state.trust_store = TrustStore.from_pem_files(settings.trusted_ca_paths())
    app.state.receipt_signer = ReceiptSigner(settings.receipt_signing_key)
    app.state.bid_threads = None


_threads_lock = threading.Lock()


def bid_threads(app: FastAPI) -> ThreadPoolExecutor:
    """``TRADING_BID_DB_SLOTS`` threads for the submissions' blocking steps
    (services/trading/bids/submission.py), made on first use and stopped with the app (:func:`stop`),
    or when it is collected, for an app never started (tests)."""
    threads: ThreadPoolExecutor | None = app.state.bid_threads
    if threads is None:
        with _threads_lock:
            threads = app.state.bid_threads
            if threads is None:
                settings: TradingSettings = app.state.settings
                threads = ThreadPoolExecutor(max_workers=settings.bid_db_slots, thread_name_prefix="bid")
                weakref.finalize(app, threads.shutdown, wait=False)
                app.state.bid_threads = threads
    return threads


def stop(app: FastAPI) -> None:
    """At shutdown: the bid threads end once the steps under way have (made again if the app is
    started again)."""
    threads: ThreadPoolExecutor | None = app.state.bid_threads
    app.state.bid_threads = None
    if threads is not None:
        threads.shutdown(wait=True)


def trust_store(request: Request) -> TrustStore:
    store: TrustStore = request.app.state.trust_store
    return store


def receipt_signer(request: Request) -> ReceiptSigner:
    signer: ReceiptSigner = request.app.state.receipt_signer
    return signer
