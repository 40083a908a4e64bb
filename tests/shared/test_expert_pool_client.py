"""The expert-pool client against the real expert-pool app (in-process), and its failure modes."""

from __future__ import annotations

import httpx
import pytest

from shared.clients.expert_pool import ExpertPoolClient
from shared.errors import DependencyUnavailable
from tests.support.inprocess import InProcessTransport


def test_specialties_through_the_real_app(make_client, issuer):
    app = make_client("expert_pool")
    operator = issuer.headers(roles=["operator"], aud="expert_pool")
    assert app.post("/specialties", json={"code": "A01", "name": "房屋建筑"}, headers=operator).status_code == 201
    token = issuer.token(sub="svc-trading", typ="service", aud="expert_pool", scope="experts:draw")
    client = ExpertPoolClient("http://expert-pool", transport=InProcessTransport(app), token_provider=lambda: token)
    codes = {s.code: s for s in client.specialties()}
    assert codes["A01"].name == "房屋建筑" and codes["A01"].active


def test_unusable_or_missing_answers_are_a_503():
    garbage = httpx.MockTransport(lambda _r: httpx.Response(200, json=[{"code": 1}]))
    with pytest.raises(DependencyUnavailable):
        ExpertPoolClient("http://x", transport=garbage).specialties()

    def down(_request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    with pytest.raises(DependencyUnavailable):
        ExpertPoolClient("http://x", transport=httpx.MockTransport(down), retries=0).specialties()
