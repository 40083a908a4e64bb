"""Settings refuse development secrets in production; clients retry only what is safe to retry."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError

from services.portal.settings import PortalSettings
from services.trading.settings import TradingSettings
from shared.clients.base import ServiceCallError, ServiceClient
from shared.errors import DependencyUnavailable
from shared.request_context import RequestContext, reset_context, set_context


def test_production_refuses_development_secrets():
    with pytest.raises(ValidationError, match="client_secret"):
        TradingSettings(environment="production", database_url="postgresql://x/y")
    with pytest.raises(ValidationError, match="KEY_ENCRYPTION_SECRET"):
        PortalSettings(environment="production", client_secret="s3cret-from-vault")
    ok = PortalSettings(environment="production", client_secret="a", key_encryption_secret="b")
    assert ok.port == 8000


def test_token_lifetimes_cannot_exceed_the_caps():
    with pytest.raises(ValidationError):
        PortalSettings(user_token_seconds=3600)
    with pytest.raises(ValidationError):
        PortalSettings(service_token_seconds=301)


def test_bid_database_slots_stay_within_the_pool(monkeypatch):
    monkeypatch.setenv("TRADING_BID_DB_SLOTS", "6")
    assert TradingSettings().bid_db_slots == 6
    for wrong in (0, 11):  # none would take no bid; more than the pool's 10 would open connections beyond it
        with pytest.raises(ValidationError, match="bid_db_slots"):
            TradingSettings(bid_db_slots=wrong)


def test_database_url_falls_back_to_the_shared_variable(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://shared/db")
    assert TradingSettings().sqlalchemy_url() == "postgresql+psycopg://shared/db"
    monkeypatch.setenv("TRADING_DATABASE_URL", "postgresql://own/db")
    assert TradingSettings().sqlalchemy_url() == "postgresql+psycopg://own/db"


def _counting_client(statuses: list[int], calls: list[httpx.Request]) -> ServiceClient:
    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        status = statuses[min(len(calls), len(statuses)) - 1]
        return httpx.Response(status, json={"error": {"code": "x", "message": "m", "details": None}})

    return ServiceClient("http://svc", transport=httpx.MockTransport(handler), retries=2, token_provider=lambda: "tok")


def test_idempotent_calls_are_retried_on_503():
    calls: list[httpx.Request] = []
    client = _counting_client([503, 503, 200], calls)
    assert client.request("GET", "/x").status_code == 200
    assert len(calls) == 3
    assert calls[0].headers["authorization"] == "Bearer tok"


def test_plain_posts_are_not_retried():
    calls: list[httpx.Request] = []
    client = _counting_client([503, 200], calls)
    assert client.request("POST", "/x", json={}).status_code == 503
    assert len(calls) == 1
    calls.clear()
    assert client.request("POST", "/x", json={}, idempotent=True).status_code == 200
    assert len(calls) == 2


def test_request_id_is_propagated():
    calls: list[httpx.Request] = []
    client = _counting_client([200], calls)
    token = set_context(RequestContext(request_id="req-42"))
    try:
        client.request("GET", "/x")
    finally:
        reset_context(token)
    assert calls[0].headers["x-request-id"] == "req-42"


def test_error_answers_and_outages_become_our_errors():
    calls: list[httpx.Request] = []
    with pytest.raises(ServiceCallError) as err:
        _counting_client([409], calls).call_json("GET", "/x")
    assert err.value.status_code == 409 and err.value.code == "x"

    def down(_request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    client = ServiceClient("http://svc", transport=httpx.MockTransport(down), retries=1)
    with pytest.raises(DependencyUnavailable):
        client.call_json("GET", "/x")
