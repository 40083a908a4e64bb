"""May this organisation bid? Asked of supervision (监管平台) before the bid's transaction opens.

Supervision's answer is required: when it cannot answer, the bid is refused with 503 rather than
taken as "clean" (a banned bidder accepted cannot be undone at the opening).
"""

from __future__ import annotations

import threading
from typing import Any

from fastapi import Request

from services.trading.bids.errors import bidder_banned
from services.trading.settings import TradingSettings
from shared.clients.base import ServiceCallError
from shared.clients.portal import PortalClient, ServiceTokenProvider
from shared.clients.supervision import SupervisionClient
from shared.contracts.credit import CreditStatus
from shared.errors import DependencyUnavailable

# The trading catalogue names its laws (shared/contracts/trading.py) differently from supervision's
# credit records (shared/contracts/credit.py). A ban under the bidding law bars 依法必须招标 projects
# (招标投标法 第五十三条 ff.), a GP ban government procurement (政府采购法 第七十七条): each applies to its
# own law. For the other categories (land, mining, property rights) no credit law is specific, so
# every ban applies: the cautious reading until the rules of those markets are modelled.
_CREDIT_LAW = {"bidding_law": "bidding", "government_procurement": "government_procurement"}

_lock = threading.Lock()


def supervision_client(request: Request) -> SupervisionClient:
    """``app.state.supervision`` if a deployment (or a test) set one, else a client of
    ``TRADING_SUPERVISION_URL`` with trading's own service token (scope ``credit:read``)."""
    client: SupervisionClient | None = getattr(request.app.state, "supervision", None)
    if client is not None:
        return client
    with _lock:
        client = getattr(request.app.state, "supervision", None)
        if client is None:
            settings: TradingSettings = request.app.state.settings
            portal = PortalClient(settings.portal_url, timeout=settings.http_timeout_seconds)
            token = ServiceTokenProvider(
                portal, settings.client_id, settings.client_secret, audience="supervision", scope="credit:read"
            )
            client = SupervisionClient(
                settings.supervision_url, timeout=settings.http_timeout_seconds, token_provider=token
            )
            request.app.state.supervision = client
    return client


def applicable_bans(status: CreditStatus, lot_law: str) -> list[dict[str, Any]]:
    """The active records that bar a bid on a lot traded under ``lot_law`` (the catalogue's law)."""
    credit_law = _CREDIT_LAW.get(lot_law)
    return [
        record.model_dump(mode="json")
        for record in status.active_records
        if credit_law is None or record.law == credit_law
    ]


def ensure_may_bid(client: SupervisionClient, credit_code: str, lot_law: str) -> None:
    """403 ``bidder_banned`` with the records in force; 503 when supervision cannot answer."""
    try:
        status = client.credit_status("organisation", credit_code)
    except ServiceCallError as exc:
        # A 4xx here is our call's fault (token, scope), not the bidder's: to the bidder it is
        # supervision not answering, and it must not pass for "clean" nor for the bidder's error.
        raise DependencyUnavailable(
            "监管平台暂时无法提供信用信息，请稍后重试",
            details={"service": "supervision", "status": exc.status_code, "code": exc.code},
        ) from exc
    bans = applicable_bans(status, lot_law)
    if bans:
        raise bidder_banned(bans)
