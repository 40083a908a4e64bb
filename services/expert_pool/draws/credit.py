"""May these experts be drawn? Asked of supervision (监管平台) in batches, with no transaction open.

Supervision's answer is required: when it cannot answer, the draw refuses to run (503
``dependency_unavailable``) rather than take anyone as "clean". Any active bad-behaviour record
excludes an expert, whatever law it was decided under: an expert barred under one law is not put on
a committee under another (the cautious reading, as for bidders on lots outside both laws).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import date
from typing import Protocol

from fastapi import Request

from services.expert_pool.settings import ExpertPoolSettings
from shared.clients.base import ServiceCallError
from shared.clients.portal import PortalClient, ServiceTokenProvider
from shared.clients.supervision import SupervisionClient
from shared.contracts.credit import MAX_BATCH_SUBJECTS, CreditStatusBatch, CreditSubject
from shared.errors import DependencyUnavailable

_lock = threading.Lock()


class CreditSource(Protocol):
    """What the draw needs of supervision's client (:class:`SupervisionClient` is one)."""

    def credit_status_batch(
        self, subjects: Sequence[CreditSubject], *, on: date | None = None
    ) -> CreditStatusBatch: ...


def supervision_client(request: Request) -> SupervisionClient:
    """``app.state.supervision`` if a deployment (or a test) set one, else a client of
    ``EXPERT_POOL_SUPERVISION_URL`` with the expert pool's own service token (scope ``credit:read``)."""
    client: SupervisionClient | None = getattr(request.app.state, "supervision", None)
    if client is not None:
        return client
    with _lock:
        client = getattr(request.app.state, "supervision", None)
        if client is None:
            settings: ExpertPoolSettings = request.app.state.settings
            portal = PortalClient(settings.portal_url, timeout=settings.http_timeout_seconds)
            token = ServiceTokenProvider(
                portal, settings.client_id, settings.client_secret, audience="supervision", scope="credit:read"
            )
            client = SupervisionClient(
                settings.supervision_url, timeout=settings.http_timeout_seconds, token_provider=token
            )
            request.app.state.supervision = client
    return client


def banned_experts(client: CreditSource, expert_ids: Sequence[str], on: date) -> set[str]:
    """The experts of ``expert_ids`` under an active ban on ``on``; batches of 500 per call."""
    banned: set[str] = set()
    for start in range(0, len(expert_ids), MAX_BATCH_SUBJECTS):
        chunk = expert_ids[start : start + MAX_BATCH_SUBJECTS]
        subjects = [CreditSubject(subject_kind="expert", subject_id=expert_id) for expert_id in chunk]
        try:
            batch = client.credit_status_batch(subjects, on=on)
        except ServiceCallError as exc:
            # A 4xx is our call's fault (token, scope): to the caller it is supervision not answering,
            # and it must never pass for "clean".
            raise DependencyUnavailable(
                "监管平台暂时无法提供信用信息，请稍后重试",
                details={"service": "supervision", "status": exc.status_code, "code": exc.code},
            ) from exc
        banned.update(status.subject_id for status in batch.results if status.banned)
    return banned
