"""Issue #2, done when: tokens three ways, every service called, each action's audit event stored by
supervision exactly once, in each source's delivery order."""

from __future__ import annotations

import base64
import uuid
from collections import Counter
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Platform
from tests.e2e.helpers import all_audit_events, bearer, new_credit_code, new_request_id, wait_for
from tests.expert_pool.factories import make_id_number, make_phone
from tests.support import pki
from tools.seed import COUNTY_CLIENT_ID, COUNTY_CLIENT_SECRET, DEMO_PASSWORD


class Calls:
    """Makes HTTP calls with a fresh request id each, remembering which audit event each should cause."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.expected: dict[str, tuple[str, str]] = {}  # request id -> (source, action)

    def __call__(
        self,
        method: str,
        service: str,
        path: str,
        *,
        status: int,
        event: str | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        request_id = new_request_id()
        response = self.platform.http.request(
            method, self.platform.url(service, path), headers={**(headers or {}), "X-Request-ID": request_id}, **kwargs
        )
        assert response.status_code == status, f"{method} {service} {path}: {response.status_code} {response.text}"
        assert response.headers["x-request-id"] == request_id
        if event is not None:
            self.expected[request_id] = (service, event)
        return response


@pytest.mark.e2e
def test_tokens_three_ways_each_service_and_audit_stored_exactly_once(platform: Platform) -> None:
    call = Calls(platform)
    suffix = uuid.uuid4().hex[:8]

    # -- password login ----------------------------------------------------------------------------
    admin_login = call(
        "POST",
        "portal",
        "/auth/login",
        json={"username": "demo-admin", "password": DEMO_PASSWORD},
        status=200,
        event="login.password",
    )
    admin = bearer(admin_login.json()["access_token"])
    admin_me = call("GET", "portal", "/me", headers=admin, status=200).json()
    assert admin_me["username"] == "demo-admin"
    assert admin_me["roles"] == ["admin"]

    # -- certificate login, certificate from the second recognised CA --------------------------------
    serial = f"E2E{suffix.upper()}"
    user_call = call(
        "POST",
        "portal",
        "/users",
        headers=admin,
        json={
            "username": f"e2e-cert-{suffix}",
            "display_name": "证书登录用户",
            "roles": ["bidder"],
            "cert_subject_serial": serial,
        },
        status=201,
        event="user.created",
    )
    cert_user = user_call.json()
    assert cert_user["cert_subject_serial"] == serial

    def cert_login(ca: pki.IssuedCert, *, status: int, event: str | None = None) -> httpx.Response:
        leaf = pki.issue_leaf(ca, common_name="证书登录用户", subject_serial=serial)
        challenge = call("POST", "portal", "/auth/cert/challenge", status=201).json()
        signature = base64.b64encode(leaf.sign(challenge["sign_this"].encode())).decode()
        body = {
            "challenge_id": challenge["challenge_id"],
            "certificate_pem": leaf.pem.decode(),
            "signature_b64": signature,
        }
        return call("POST", "portal", "/auth/cert/login", json=body, status=status, event=event)

    first_ca, second_ca = platform.trusted_cas
    cert_token = cert_login(second_ca, status=200, event="login.certificate").json()["access_token"]
    cert_me = call("GET", "portal", "/me", headers=bearer(cert_token), status=200).json()
    assert cert_me["id"] == cert_user["id"]
    assert cert_me["roles"] == ["bidder"]
    # Mutual recognition means either CA's certificate for the same person; a CA off the list is refused.
    cert_login(first_ca, status=200, event="login.certificate")
    untrusted = cert_login(pki.make_ca("E2E 未受信任 CA"), status=401).json()["error"]
    assert untrusted["code"] == "invalid_certificate"
    assert untrusted["details"]["reason"] == "untrusted_chain"

    # -- client credentials (county sub-platform) ------------------------------------------------------
    county_grant = call(
        "POST",
        "portal",
        "/oauth/token",
        auth=(COUNTY_CLIENT_ID, COUNTY_CLIENT_SECRET),
        data={"grant_type": "client_credentials", "audience": "trading"},
        status=200,
    ).json()
    assert county_grant["scope"] == "trading:read"
    county = bearer(county_grant["access_token"])

    # -- trading: a venue on the city platform and one on Gaoping's ------------------------------------
    operator = bearer(
        call(
            "POST",
            "portal",
            "/auth/login",
            json={"username": "demo-operator", "password": DEMO_PASSWORD},
            status=200,
            event="login.password",
        ).json()["access_token"]
    )
    operator_me = call("GET", "portal", "/me", headers=operator, status=200).json()
    gaoping_operator = bearer(
        call(
            "POST",
            "portal",
            "/auth/login",
            json={"username": "gaoping-operator", "password": DEMO_PASSWORD},
            status=200,
            event="login.password",
        ).json()["access_token"]
    )
    venue = {"kind": "opening_hall", "location": "晋城市泽州路 1 号", "capacity": 80}
    city_venue = call(
        "POST",
        "trading",
        "/venues",
        headers=operator,
        json={**venue, "name": f"市开标一室 {suffix}"},
        status=201,
        event="venue.created",
    ).json()
    gaoping_venue = call(
        "POST",
        "trading",
        "/venues",
        headers=gaoping_operator,
        json={**venue, "name": f"高平开标室 {suffix}"},
        status=201,
        event="venue.created",
    ).json()
    assert (city_venue["platform"], gaoping_venue["platform"]) == ("jincheng", "gaoping")

    county_view = call("GET", "trading", "/venues", headers=county, params={"limit": 500}, status=200).json()
    assert county_view, "the county client sees no venues at all"
    assert {v["platform"] for v in county_view} == {"gaoping"}
    assert gaoping_venue["id"] in {v["id"] for v in county_view}
    city_view = call("GET", "trading", "/venues", headers=operator, params={"limit": 500}, status=200).json()
    assert {city_venue["id"], gaoping_venue["id"]} <= {v["id"] for v in city_view}
    # The password token is good on trading too (it is issued for every service by default).
    call("GET", "trading", f"/venues/{city_venue['id']}", headers=admin, status=200)

    # -- portal: an organisation, from a device we name --------------------------------------------------
    fingerprint = f"e2e-device-{suffix}"
    org_call = call(
        "POST",
        "portal",
        "/organisations",
        headers={**admin, "X-Device-Fingerprint": fingerprint},
        json={"name": f"晋城端到端测试有限公司{suffix}", "credit_code": new_credit_code(), "org_type": "bidder"},
        status=201,
        event="organisation.created",
    )
    org_request_id = org_call.headers["x-request-id"]

    # -- expert pool: a specialty, then an expert in it ------------------------------------------------
    specialty_code = f"E{uuid.uuid4().int % 10**8:08d}"
    specialty_call = call(
        "POST",
        "expert_pool",
        "/specialties",
        headers=operator,
        json={"code": specialty_code, "name": "端到端测试专业"},
        status=201,
        event="specialty.created",
    )
    expert_call = call(
        "POST",
        "expert_pool",
        "/experts",
        headers=operator,
        json={
            "name": "张评审",
            "title": "高级工程师",
            "title_level": "senior",
            "years_experience": 12,
            "specialties": [specialty_code],
            "employer_credit_code": new_credit_code(),
            "employer_name": "晋城市某设计研究院",
            "employed_since": "2014-07-01",
            "id_number": make_id_number(uuid.uuid4().int % 10**6),
            "region_code": "140502",
            "phone": make_phone(uuid.uuid4().int % 10**6),
        },
        status=201,
        event="expert.registered",
    )
    call("GET", "expert_pool", f"/experts/{expert_call.json()['id']}", headers=operator, status=200)

    # -- supervision ------------------------------------------------------------------------------------
    supervisor = bearer(
        call(
            "POST",
            "portal",
            "/auth/login",
            json={"username": "demo-supervisor", "password": DEMO_PASSWORD},
            status=200,
            event="login.password",
        ).json()["access_token"]
    )
    call("GET", "supervision", "/audit/events", headers=supervisor, params={"limit": 1}, status=200)

    # -- the audit events of all of the above, stored by supervision --------------------------------------
    def all_arrived() -> list[dict[str, Any]] | None:
        events = all_audit_events(platform.http, platform.url("supervision"), supervisor)
        seen = {e["request_id"] for e in events}
        return events if seen >= call.expected.keys() else None

    events = wait_for(all_arrived, what=f"{len(call.expected)} audit events at supervision")

    duplicated = [event_id for event_id, n in Counter(e["event_id"] for e in events).items() if n > 1]
    assert not duplicated, f"events stored more than once: {duplicated}"
    for source in {e["source"] for e in events}:
        seqs = [e["delivery_seq"] for e in sorted(events, key=lambda e: e["id"]) if e["source"] == source]
        assert seqs == list(range(1, len(seqs) + 1)), f"{source}: delivery_seq not 1..N in id order: {seqs}"

    for request_id, (source, action) in call.expected.items():
        matching = [e for e in events if e["request_id"] == request_id]
        assert len(matching) == 1, f"{action}: {len(matching)} events for request {request_id}"
        event = matching[0]
        assert (event["source"], event["action"]) == (source, action)
        assert event["client_ip"] == "127.0.0.1"
        assert event["user_agent"].startswith("python-httpx/")
        assert datetime.fromisoformat(event["occurred_at"]) <= datetime.fromisoformat(event["received_at"])
        if request_id == org_request_id:
            assert event["device_fingerprint"] == fingerprint
        else:
            assert event["device_fingerprint"] is None

    by_action = Counter(event["action"] for rid in call.expected for event in events if event["request_id"] == rid)
    assert by_action == {
        "login.password": 4,
        "login.certificate": 2,
        "user.created": 1,
        "venue.created": 2,
        "organisation.created": 1,
        "specialty.created": 1,
        "expert.registered": 1,
    }
    cert_events = [e for e in events if e["request_id"] in call.expected and e["action"] == "login.certificate"]
    assert {e["actor"] for e in cert_events} == {cert_user["id"]}
    venue_events = {e["object_id"]: e for e in events if e["action"] == "venue.created"}
    assert venue_events[city_venue["id"]]["actor"] == operator_me["id"]
    assert venue_events[gaoping_venue["id"]]["platform"] == "gaoping"

    # Who did what, on which object, as each service recorded it.
    by_request = {e["request_id"]: e for e in events if e["request_id"] in call.expected}

    def recorded(response: httpx.Response) -> tuple[str | None, str, str | None]:
        event = by_request[response.headers["x-request-id"]]
        return event["actor"], event["object_id"], event["platform"]

    assert recorded(admin_login) == (admin_me["id"], admin_me["id"], "jincheng")
    assert recorded(user_call) == (admin_me["id"], cert_user["id"], "jincheng")
    assert recorded(org_call) == (admin_me["id"], org_call.json()["id"], "jincheng")
    assert recorded(specialty_call) == (operator_me["id"], specialty_code, "jincheng")
    assert recorded(expert_call) == (operator_me["id"], expert_call.json()["id"], "jincheng")
