"""May this organisation bid? Asked of supervision (监管平台) while the envelope streams in.

Supervision's answer is required: when it cannot answer, the bid is refused with 503 rather than
taken as "clean" (a banned bidder accepted cannot be undone at the opening).

Nothing is cached. Under a deadline surge many submissions ask at once, so :class:`CreditChecks`
puts the questions that arrive while its calls to supervision are all under way into the next call,
as one ``POST /credit/status:batch`` (the same judgement as ``GET /credit/status``, per subject).
Every submission is answered by a call that started after it asked, so a ban decided before a bid
began is always seen, and a batch that fails refuses every bid in it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from services.trading.bids.errors import bidder_banned
from services.trading.settings import TradingSettings
from shared.clients.base import ServiceCallError
from shared.clients.portal import PortalClient, ServiceTokenProvider
from shared.clients.supervision import SupervisionClient
from shared.contracts.credit import MAX_BATCH_SUBJECTS, CreditStatus, CreditSubject
from shared.errors import ApiError, DependencyUnavailable

log = logging.getLogger("services.trading.bids.credit")

# The trading catalogue names its laws (shared/contracts/trading.py) differently from supervision's
# credit records (shared/contracts/credit.py). A ban under the bidding law bars 依法必须招标 projects
# (招标投标法 第五十三条 ff.), a GP ban government procurement (政府采购法 第七十七条): each applies to its
# own law. For the other categories (land, mining, property rights) no credit law is specific, so
# every ban applies: the cautious reading until the rules of those markets are modelled.
_CREDIT_LAW = {"bidding_law": "bidding", "government_procurement": "government_procurement"}

_lock = threading.Lock()


def supervision_client_of(app: FastAPI) -> SupervisionClient:
    """``app.state.supervision`` if a deployment (or a test) set one, else a client of
    ``TRADING_SUPERVISION_URL`` with trading's own service token (scope ``credit:read``)."""
    client: SupervisionClient | None = getattr(app.state, "supervision", None)
    if client is not None:
        return client
    with _lock:
        client = getattr(app.state, "supervision", None)
        if client is None:
            settings: TradingSettings = app.state.settings
            portal = PortalClient(settings.portal_url, timeout=settings.http_timeout_seconds)
            token = ServiceTokenProvider(
                portal, settings.client_id, settings.client_secret, audience="supervision", scope="credit:read"
            )
            client = SupervisionClient(
                settings.supervision_url, timeout=settings.http_timeout_seconds, token_provider=token
            )
            app.state.supervision = client
    return client


def applicable_bans(status: CreditStatus, lot_law: str) -> list[dict[str, Any]]:
    """The active records that bar a bid on a lot traded under ``lot_law`` (the catalogue's law)."""
    credit_law = _CREDIT_LAW.get(lot_law)
    return [
        record.model_dump(mode="json")
        for record in status.active_records
        if credit_law is None or record.law == credit_law
    ]


def _unavailable(exc: BaseException) -> DependencyUnavailable:
    """A fresh refusal for each waiting bid (one exception object is not raised in many tasks)."""
    if isinstance(exc, ServiceCallError):
        # A 4xx here is our call's fault (token, scope), not the bidder's: to the bidder it is
        # supervision not answering, and it must not pass for "clean" nor for the bidder's error.
        details: Any = {"service": "supervision", "status": exc.status_code, "code": exc.code}
        return DependencyUnavailable("监管平台暂时无法提供信用信息，请稍后重试", details=details)
    if isinstance(exc, ApiError):
        return DependencyUnavailable(exc.message, details=exc.details)
    log.error("credit check failed unexpectedly", exc_info=exc)
    return DependencyUnavailable("监管平台暂时无法提供信用信息，请稍后重试", details={"service": "supervision"})


# Calls to supervision under way at once, per process. One: while it is under way, every question
# that arrives waits for the next call and goes out with the others in one batch, so a surge costs
# supervision (and trading) one call per batch rather than per bid. A bid waits at most for the
# call under way and then its own, tens of milliseconds, hidden by its upload, which takes longer.
# (Four in flight, measured in the surge bench: supervision spent 1.0 ms of CPU per bid, against 0.46.)
CALLS_IN_FLIGHT = 1
# Under load (a call ended less than BUSY_SECONDS ago), how long a call waits for more questions
# before it goes out. Hidden behind the upload it runs beside (a 1 MiB bid takes hundreds of
# milliseconds to arrive in a surge), and it makes the batches: with bids leaving their first
# transaction one by one, calls otherwise carried one or two questions each, and supervision spent
# 1.6-1.8 ms of CPU per bid instead of ~0.8. A lone bid's question goes out at once.
BATCH_WINDOW_SECONDS = 0.025
BUSY_SECONDS = 0.5


class CreditChecks:
    """Credit questions of one app's concurrent submissions, put to supervision in batches.

    Lives on the event loop: :meth:`status` is awaited by the submissions; up to ``CALLS_IN_FLIGHT``
    tasks ask supervision (the blocking client, in a worker thread) for whatever is waiting, and loop
    until nothing is. A lone question goes out at once; under load a call first waits
    ``BATCH_WINDOW_SECONDS`` for more, and questions arriving while all calls are busy go out
    together with the next, so the number of calls follows supervision's speed, not the number of
    bids.
    """

    def __init__(self, app: FastAPI) -> None:
        self._app = app
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiting: dict[str, list[asyncio.Future[CreditStatus]]] = {}
        # Calls under way, counted by the asking coroutines themselves (see _ask), and the tasks
        # running them (kept referenced until they are done).
        self._calls = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_call_ended = float("-inf")  # on the loop's clock

    async def status(self, credit_code: str) -> CreditStatus:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # Another event loop (a test client's, one per client): nothing of the old one carries over.
            self._loop, self._waiting, self._calls, self._tasks = loop, {}, 0, set()
            self._last_call_ended = float("-inf")
        future: asyncio.Future[CreditStatus] = loop.create_future()
        self._waiting.setdefault(credit_code, []).append(future)
        if self._calls < CALLS_IN_FLIGHT:
            self._calls += 1
            task = loop.create_task(self._ask())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _ask(self) -> None:
        try:
            while self._waiting:
                await self._ask_once()
        finally:
            # Given up in the same step as the last look at _waiting, with no await between: a
            # question added after that look finds the call count already down and starts a call.
            # (A task's done callback runs later: a bid woken by this call's answer could ask again
            # before it, find the finished task still counted, and wait for a call that never came.)
            self._calls -= 1

    async def _ask_once(self) -> None:
        loop = asyncio.get_running_loop()
        if loop.time() - self._last_call_ended < BUSY_SECONDS:
            await asyncio.sleep(BATCH_WINDOW_SECONDS)
        codes = list(self._waiting)[:MAX_BATCH_SUBJECTS]
        batch = {code: self._waiting.pop(code) for code in codes}
        answers: dict[str, CreditStatus] = {}
        failure: BaseException | None = None
        try:
            # The client is looked up per call: a deployment or a test may replace it.
            client = supervision_client_of(self._app)
            subjects = [CreditSubject(subject_kind="organisation", subject_id=code) for code in codes]
            answer = await run_in_threadpool(client.credit_status_batch, subjects)
            # The client has checked that the answers are for exactly these subjects, in order.
            answers = dict(zip(codes, answer.results, strict=True))
        except BaseException as exc:  # noqa: BLE001 - every waiting bid is refused: none let through, none left waiting
            failure = exc
        self._last_call_ended = loop.time()
        for code, futures in batch.items():
            for future in futures:
                if future.done():  # its request went away meanwhile
                    continue
                if failure is not None:
                    future.set_exception(_unavailable(failure))
                else:
                    future.set_result(answers[code])
        if failure is not None and not isinstance(failure, Exception):
            raise failure  # cancelled (the loop is closing): the waiting bids were refused above


def credit_checks(app: FastAPI) -> CreditChecks:
    checks: CreditChecks | None = getattr(app.state, "credit_checks", None)
    if checks is None:
        checks = app.state.credit_checks = CreditChecks(app)
    return checks


async def ensure_may_bid(asked: Awaitable[CreditStatus], lot_law: str) -> None:
    """403 ``bidder_banned`` with the records in force under ``lot_law``; 503 when supervision could
    not answer ``asked`` (:meth:`CreditChecks.status`)."""
    bans = applicable_bans(await asked, lot_law)
    if bans:
        raise bidder_banned(bans)
