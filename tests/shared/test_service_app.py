"""Every service answers /health, /ready, /openapi.json and speaks the one error body."""

from __future__ import annotations

import pytest

SERVICES = ["portal", "trading", "expert_pool", "supervision"]


@pytest.mark.parametrize("service", SERVICES)
def test_health_ready_and_openapi(make_client, service):
    client = make_client(service)
    assert client.get("/health").json() == {"status": "ok", "service": service}
    ready = client.get("/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready"
    assert client.get("/openapi.json").json()["info"]["title"]


@pytest.mark.parametrize("service", SERVICES)
def test_framework_errors_use_the_error_body(make_client, service):
    client = make_client(service)
    missing = client.get("/no-such-path")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    wrong_method = client.delete("/health")
    assert wrong_method.status_code == 405
    assert set(wrong_method.json()["error"]) == {"code", "message", "details"}


@pytest.mark.parametrize("service", SERVICES)
def test_request_id_is_echoed_or_made(make_client, service):
    client = make_client(service)
    assert client.get("/health", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    made = client.get("/health", headers={"X-Request-ID": "bad id\nwith newline"}).headers["x-request-id"]
    assert made != "bad id\nwith newline" and len(made) == 32


def test_ready_reports_unmigrated_schema(make_client, connection):
    client = make_client("trading")
    connection.exec_driver_sql("update trading.alembic_version set version_num = 'stale'")
    response = client.get("/ready")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "not_ready"
    assert response.json()["error"]["details"]["database"] == "stale"
