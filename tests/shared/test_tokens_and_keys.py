"""Unit tests of verify_token(), the JWKS key source and the revocation list (fakes for the portal)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from jose import jwk

from shared.auth.keys import JwksKeySource, StaticKeySource, WouldBlock
from shared.auth.revocations import HttpRevocations, StaticRevocations
from shared.auth.tokens import TokenRejected, verify_token
from shared.errors import DependencyUnavailable
from tests.support.tokens import TestIssuer


def test_verify_returns_the_principal(issuer):
    token = issuer.token(sub="u1", roles=["operator", "supervisor"], platform="gaoping", org="o1", aud="trading")
    principal = verify_token(token, audience="trading", issuer="jincheng-portal", keys=StaticKeySource([issuer.jwk]))
    assert principal.subject == "u1" and principal.platform == "gaoping" and principal.org == "o1"
    assert principal.roles == {"operator", "supervisor"} and principal.primary_role == "operator"
    assert not principal.is_city


def test_audience_list_is_accepted_when_it_names_us(issuer):
    token = issuer.token(aud=["portal", "trading"])
    assert verify_token(token, audience="trading", issuer="jincheng-portal", keys=StaticKeySource([issuer.jwk]))


def test_a_key_is_made_from_its_jwk_once(issuer, monkeypatch):
    """The JWK's coordinates become a key once, not per token (a quarter of a check's cost)."""
    minted = [issuer.token(sub=sub) for sub in ("u1", "u2", "u3")]  # signing makes keys too
    made: list[dict[str, Any]] = []
    construct = jwk.construct

    def counted(data: dict[str, Any], algorithm: str) -> Any:
        made.append(data)
        return construct(data, algorithm)

    monkeypatch.setattr(jwk, "construct", counted)
    keys = StaticKeySource([issuer.jwk])
    for token in minted:
        assert verify_token(token, audience="trading", issuer="jincheng-portal", keys=keys)
    assert len(made) <= 1  # none if an earlier test already verified with this issuer's key


def test_a_key_replaced_under_the_same_kid_is_not_verified_with_the_old_one(issuer):
    keys = StaticKeySource([issuer.jwk])
    assert verify_token(issuer.token(), audience="trading", issuer="jincheng-portal", keys=keys)
    successor = TestIssuer()  # same kid, another key
    assert successor.kid == issuer.kid
    replaced = StaticKeySource([successor.jwk])
    with pytest.raises(TokenRejected, match="signature"):
        verify_token(issuer.token(), audience="trading", issuer="jincheng-portal", keys=replaced)
    assert verify_token(successor.token(), audience="trading", issuer="jincheng-portal", keys=replaced)


def test_a_jwk_that_is_no_ec_key_rejects_the_token_and_is_no_error(issuer):
    broken = {**issuer.jwk, "x": "not base64 at all!"}
    with pytest.raises(TokenRejected, match="signature"):
        verify_token(issuer.token(), audience="trading", issuer="jincheng-portal", keys=StaticKeySource([broken]))
    rsa = {"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": issuer.kid}
    with pytest.raises(TokenRejected, match="signature"):
        verify_token(issuer.token(), audience="trading", issuer="jincheng-portal", keys=StaticKeySource([rsa]))


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"roles": ["emperor"]}, "roles"),
        ({"platform": "atlantis"}, "platform"),
        ({"typ": "robot"}, "typ"),
        ({"org": 5}, "org"),
        ({"scope": ["a"]}, "scope"),
    ],
)
def test_claim_values_are_checked(issuer, claims, reason):
    token = issuer.sign({**issuer.claims(), **claims})
    with pytest.raises(TokenRejected) as err:
        verify_token(token, audience="trading", issuer="jincheng-portal", keys=StaticKeySource([issuer.jwk]))
    assert err.value.details == {"reason": reason}


def test_revocation_applies_to_tokens_issued_before(issuer):
    claims = issuer.claims(sub="client-x")
    token = issuer.sign(claims)
    keys = StaticKeySource([issuer.jwk])
    verify_token(
        token,
        audience="trading",
        issuer="jincheng-portal",
        keys=keys,
        revocations=StaticRevocations({"client-x": claims["iat"] - 1}),
    )
    with pytest.raises(TokenRejected, match="revoked"):
        verify_token(
            token,
            audience="trading",
            issuer="jincheng-portal",
            keys=keys,
            revocations=StaticRevocations({"client-x": claims["iat"]}),
        )


def _jwks_transport(calls: list[str], keysets: list[list[dict]]):
    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return httpx.Response(200, json={"keys": keysets[min(len(calls), len(keysets)) - 1]})

    return httpx.MockTransport(handler)


def test_jwks_refetches_on_unknown_kid_but_not_for_every_request():
    first, rotated = TestIssuer(kid="k1"), TestIssuer(kid="k2")
    calls: list[str] = []
    client = httpx.Client(transport=_jwks_transport(calls, [[first.jwk], [first.jwk, rotated.jwk]]))
    source = JwksKeySource("http://portal/.well-known/jwks.json", client=client, min_refetch_interval=0.0)
    assert source.get_key("k1") is not None and len(calls) == 1
    assert source.get_key("k1") is not None and len(calls) == 1  # cached
    assert source.get_key("k2") is not None and len(calls) == 2  # rotation picked up without restart
    limited = JwksKeySource("http://portal/.well-known/jwks.json", client=client, min_refetch_interval=60.0)
    limited.get_key("k1")
    before = len(calls)
    for _ in range(5):
        assert limited.get_key("random-kid") is None
    assert len(calls) == before  # unknown kids cannot make us hammer the portal
    assert calls[0] == "http://portal/.well-known/jwks.json"


def test_revocation_list_fails_closed_when_too_stale():
    state = {"up": True}

    def handler(_request: httpx.Request) -> httpx.Response:
        if not state["up"]:
            raise httpx.ConnectError("portal down")
        return httpx.Response(200, json={"revoked": [{"sub": "bad", "revoked_at": 10}]})

    client = httpx.Client(transport=httpx.MockTransport(handler))
    tolerant = HttpRevocations("http://portal/r", client=client, cache_seconds=0.0, max_stale_seconds=60.0)
    assert tolerant.revoked_at("bad") == 10
    state["up"] = False
    assert tolerant.revoked_at("bad") == 10  # recent copy still used
    strict = HttpRevocations("http://portal/r", client=client, cache_seconds=0.0, max_stale_seconds=0.0)
    with pytest.raises(DependencyUnavailable):
        strict.revoked_at("anyone")


def test_jwks_outage_keeps_cached_keys_and_is_a_503_without_any():
    issuer = TestIssuer(kid="k1")
    state = {"up": True, "calls": 0}

    def handler(_request: httpx.Request) -> httpx.Response:
        state["calls"] += 1
        if not state["up"]:
            raise httpx.ConnectError("portal down")
        return httpx.Response(200, json={"keys": [issuer.jwk]})

    client = httpx.Client(transport=httpx.MockTransport(handler))
    source = JwksKeySource("http://portal/jwks", client=client, cache_seconds=0.0, min_refetch_interval=0.0)
    assert source.get_key("k1") is not None
    state["up"] = False
    assert source.get_key("k1") is not None  # the portal is down, the key we hold still verifies
    cold = JwksKeySource("http://portal/jwks", client=client)
    with pytest.raises(DependencyUnavailable):
        cold.get_key("k1")


def test_revocation_refresh_is_throttled_while_the_portal_is_down():
    calls: list[int] = []

    def handler(_request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) > 1:
            raise httpx.ConnectError("portal down")
        return httpx.Response(200, json={"revoked": []})

    client = httpx.Client(transport=httpx.MockTransport(handler))
    source = HttpRevocations("http://portal/r", client=client, cache_seconds=0.0, retry_seconds=0.2)
    assert source.revoked_at("someone") is None
    time.sleep(0.25)
    for _ in range(20):
        assert source.revoked_at("someone") is None  # the list fetched a moment ago still serves
    assert len(calls) == 2  # the first fetch and one failed retry; not one per request


def test_without_waiting_a_source_answers_from_its_cache_and_never_fetches(issuer):
    """``wait=False`` is how the upload endpoint checks tokens on the event loop: a fetch (or a lock
    held by a fetching thread) is WouldBlock, and only a cached answer is given."""
    fetches: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        fetches.append(request.url.path)
        if request.url.path == "/jwks":
            return httpx.Response(200, json={"keys": [issuer.jwk]})
        return httpx.Response(200, json={"revoked": [{"sub": "gone", "revoked_at": int(time.time())}]})

    client = httpx.Client(transport=httpx.MockTransport(handler))
    keys = JwksKeySource("http://portal/jwks", client=client)
    revocations = HttpRevocations("http://portal/r", client=client)
    token = issuer.token(sub="u1", aud="trading")
    check: dict[str, Any] = {
        "audience": "trading",
        "issuer": "jincheng-portal",
        "keys": keys,
        "revocations": revocations,
    }
    with pytest.raises(WouldBlock):
        verify_token(token, **check, wait=False)  # cold: the keys must be fetched
    assert fetches == []
    assert verify_token(token, **check).subject == "u1"  # where waiting is allowed: fetched
    assert fetches == ["/jwks", "/r"]
    assert verify_token(token, **check, wait=False).subject == "u1"  # now from the cache alone
    with pytest.raises(TokenRejected, match="revoked"):
        verify_token(issuer.token(sub="gone", aud="trading", iat=int(time.time()) - 5), **check, wait=False)
    assert fetches == ["/jwks", "/r"]

    keys._lock.acquire()  # another thread is fetching: the loop must not wait for it
    try:
        with pytest.raises(WouldBlock):
            keys.get_key(issuer.jwk["kid"], wait=False)
    finally:
        keys._lock.release()
    stale = HttpRevocations("http://portal/r", client=client, cache_seconds=0.0, retry_seconds=0.0)
    assert stale.revoked_at("u1") is None
    with pytest.raises(WouldBlock):
        stale.revoked_at("u1", wait=False)  # due for a refresh: left to a worker thread


def test_the_async_token_check_falls_back_to_a_worker_thread_when_a_fetch_is_due(issuer):
    """require_on_loop admits and refuses as require does; a cold key source is fetched in a thread."""
    import asyncio

    from fastapi import Depends, FastAPI
    from fastapi.testclient import TestClient

    from shared.auth import Authenticator, Principal, require_on_loop
    from shared.errors import install_error_handlers

    threads: list[str] = []

    def handler(_request: httpx.Request) -> httpx.Response:
        import threading

        threads.append(threading.current_thread().name)
        return httpx.Response(200, json={"keys": [issuer.jwk]})

    app = FastAPI()
    install_error_handlers(app)
    keys = JwksKeySource("http://portal/jwks", client=httpx.Client(transport=httpx.MockTransport(handler)))
    app.state.authenticator = Authenticator(audience="trading", keys=keys, revocations=None)

    @app.post("/upload")
    async def upload(principal: Principal = Depends(require_on_loop("bidder", typ="user"))) -> dict[str, str]:
        await asyncio.sleep(0)
        return {"sub": principal.subject}

    with TestClient(app) as client:
        bidder = {"Authorization": f"Bearer {issuer.token(sub='b1', roles=['bidder'], aud='trading')}"}
        assert client.post("/upload", headers=bidder).json() == {"sub": "b1"}
        assert client.post("/upload", headers=bidder).json() == {"sub": "b1"}
        assert len(threads) == 1 and threads[0] != "MainThread"  # fetched once, off the event loop
        operator = {"Authorization": f"Bearer {issuer.token(sub='o1', roles=['operator'], aud='trading')}"}
        assert client.post("/upload", headers=operator).json()["error"]["code"] == "forbidden_role"
        assert client.post("/upload").status_code == 401
