"""One bid submission, orchestrated on the event loop (the endpoint is ``async``).

The phases of :mod:`services.trading.bids.service` take as few worker-thread hops as there are
blocking steps: the first transaction, which also opens the store's temporary file (one hop); the
upload, read on the loop while supervision is asked in parallel (:mod:`services.trading.bids.credit`);
then the ciphertext's final check, ``fsync`` and the transaction that records the bid (one hop). The
receipt is answered after that commit.

The hops run in at most ``TRADING_BID_DB_SLOTS`` threads at once (see :func:`_in_thread`), so
bids hold no more of the pool's connections than that, and the process's other requests keep theirs.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, ParamSpec, TypeVar

from anyio import CancelScope
from fastapi import FastAPI, Request
from sqlalchemy.orm import Session

from services.trading.bids import credit, idempotency, service, state
from services.trading.bids.errors import envelope_rejected
from services.trading.bids.idempotency import Claim
from services.trading.bids.models import BidReceipt
from services.trading.bids.receipts import ReceiptSigner
from services.trading.bids.state import receipt_signer, trust_store
from services.trading.bids.upload import ReceivedEnvelope, digest_body, receive_envelope
from services.trading.documents.streaming import blob_store
from services.trading.settings import TradingSettings
from shared.auth import Principal
from shared.envelope import EnvelopeRejected
from shared.storage import BlobStore, BlobWriter, writer_for

P = ParamSpec("P")
T = TypeVar("T")


async def _in_thread(app: FastAPI, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``call`` in one of the ``TRADING_BID_DB_SLOTS`` bid threads (:func:`state.bid_threads`),
    taken in arrival order. The request's context goes along: the request id, client address and
    device fingerprint that the version and the audit event record.

    Each runs at most one transaction at a time, so this is also how many of the pool's connections
    bids hold at once: a surge never opens (and closes again) connections beyond the pool, and the
    process's other requests keep the rest of the pool and of the thread pool. Few on purpose: every
    runnable worker thread competes with the event loop, which reads 64 uploads at once, for the
    interpreter lock (docs/adr/0007-bid-surge.md). An executor of their own, not anyio's limiter
    over its thread pool: a hop costs a quarter of the CPU (0.018 against 0.07 ms under load).

    A call is never abandoned: when the request is cancelled, the cancellation is raised only once
    the call has ended, so that the caller's clean-up (freeing the claim) cannot race the
    transaction still running, as anyio's ``to_thread`` waits too."""
    loop = asyncio.get_running_loop()
    step = functools.partial(contextvars.copy_context().run, call, *args, **kwargs)
    running = loop.run_in_executor(state.bid_threads(app), step)
    try:
        return await asyncio.shield(running)
    except asyncio.CancelledError:
        await _ended(running)
        raise


async def _ended(running: asyncio.Future[Any]) -> None:
    """Wait for ``running`` to end, whatever cancels the waiting task meanwhile (``asyncio.wait``
    never cancels what it waits for)."""
    while not running.done():
        try:
            await asyncio.wait([running])
        except asyncio.CancelledError:
            continue
    if not running.cancelled():
        running.exception()  # taken, so that asyncio does not log it: the caller was cancelled


@contextmanager
def _session(app: FastAPI) -> Iterator[Session]:
    with app.state.session_factory() as session:
        yield session


def _start(
    app: FastAPI,
    principal: Principal,
    lot_id: uuid.UUID,
    declared: service.Declared,
    claim_ttl: timedelta,
    store: BlobStore,
    max_bytes: int,
) -> tuple[service.Started, BlobWriter] | service.Replayed:
    with _session(app) as session:
        started = service.start(session, principal, lot_id, declared, claim_ttl=claim_ttl)
    if isinstance(started, service.Replayed):
        return started
    # Created here rather than on the loop: creating a file waits for the directory's lock, which
    # the renames of other bids' blobs into the store take at the same time.
    try:
        return started, writer_for(store, max_bytes=max_bytes)
    except BaseException:
        if started.held is not None:
            _release(app, started.held)
        raise


def _release(app: FastAPI, held: Claim) -> None:
    with _session(app) as session:
        service.release(session, held)


def _store_and_record(
    app: FastAPI,
    principal: Principal,
    started: service.Started,
    received: ReceivedEnvelope,
    declared: service.Declared,
    signer: ReceiptSigner,
) -> BidReceipt:
    try:
        # Before the transaction: the bytes are checked and on disk before the row naming them commits.
        received.store()
    except EnvelopeRejected as exc:
        raise envelope_rejected(exc) from exc
    with _session(app) as session:
        receipt = service.record(session, principal, started, received, declared, signer)
        # Committed before the answer: a receipt is issued only for a bid that is stored.
        session.commit()
    relay = getattr(app.state, "relay", None)
    if relay is not None:
        relay.wake()  # ship the audit event now rather than at the next poll
    return receipt


async def submit(
    request: Request, principal: Principal, lot_id: uuid.UUID, declared: service.Declared
) -> tuple[BidReceipt, bool]:
    """Accept a new version of the caller's bid; returns its receipt and whether it is a replay."""
    app: FastAPI = request.app
    settings: TradingSettings = app.state.settings
    claim_ttl = timedelta(seconds=settings.idempotency_claim_seconds)
    max_bytes = settings.max_bid_bytes
    opened = await _in_thread(app, _start, app, principal, lot_id, declared, claim_ttl, blob_store(request), max_bytes)
    if isinstance(opened, service.Replayed):
        # The first receipt again if the body is the same; the body is hashed, not stored.
        body_sha256 = await digest_body(request.stream(), max_bytes=max_bytes)
        if opened.lot_id != lot_id or body_sha256 != opened.body_sha256:
            raise idempotency.key_reused()
        return opened.receipt, True
    started, ciphertext = opened
    # Only the declared credit code is needed, so supervision is asked while the envelope streams in.
    # (Not before the first transaction: that would win a little more time, but the tests run
    # supervision in-process on the very connection the first transaction is using.)
    asked = asyncio.ensure_future(credit.credit_checks(app).status(declared.credit_code))
    checked = asyncio.ensure_future(credit.ensure_may_bid(asked, started.law))
    try:
        try:
            received = await receive_envelope(
                request.stream(),
                ciphertext,
                trust=trust_store(request),
                at=started.now,
                lot_id=str(started.lot_id),
                credit_code=declared.credit_code,
                max_bytes=max_bytes,
                stop=lambda: _refused(checked),
            )
        except EnvelopeRejected as exc:
            await checked  # a refusal of the credit check is the answer, see _refused
            raise envelope_rejected(exc) from exc
        except Exception:
            await checked
            raise
        await checked
        receipt = await _in_thread(
            app, _store_and_record, app, principal, started, received, declared, receipt_signer(request)
        )
    except BaseException:
        _drop(checked)
        _drop(asked)
        ciphertext.discard()  # nothing once stored: the blob is in place and stays, unreferenced
        if started.held is not None:
            with CancelScope(shield=True):
                await _in_thread(app, _release, app, started.held)
        raise
    return receipt, False


def _drop(future: asyncio.Future[Any]) -> None:
    """Stop waiting for a credit check whose answer no longer matters (the request failed)."""
    future.cancel()
    if future.done() and not future.cancelled():
        future.exception()  # taken, so that asyncio does not log a refusal nobody needs


def _refused(checked: asyncio.Future[None]) -> None:
    """Stop reading the upload of a bidder that supervision refused (or could not judge) meanwhile.

    Whenever the upload fails, the credit check's refusal is the answer, as when the check was made
    before the upload: a banned bidder is told it is banned, not that its file was malformed."""
    if checked.done() and not checked.cancelled() and checked.exception() is not None:
        checked.result()
