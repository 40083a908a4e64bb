"""Certificate login through the API: a challenge signed with a certificate from any trusted CA."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from services.portal.db import OutboxEvent
from shared.certificates import TrustStore
from tests.support.pki import issue_leaf, make_ca


@pytest.fixture(scope="module")
def cas():
    return make_ca("CA甲 Shanxi CA"), make_ca("CA乙 Another CA")


@pytest.fixture
def portal_with_trust(portal, cas):
    portal.app.state.trust_store = TrustStore.from_pem([ca.pem for ca in cas])
    return portal


def _cert_login(portal, leaf, *, intermediates=(), sign_with=None, tamper=False):
    challenge = portal.post("/auth/cert/challenge").json()
    message = challenge["sign_this"].encode()
    signature = (sign_with or leaf).sign(message + (b"x" if tamper else b""))
    return portal.post(
        "/auth/cert/login",
        json={
            "challenge_id": challenge["challenge_id"],
            "certificate_pem": leaf.pem.decode(),
            "intermediates_pem": [i.pem.decode() for i in intermediates],
            "signature_b64": base64.b64encode(signature).decode(),
        },
    )


@pytest.mark.parametrize("ca_index", [0, 1], ids=["first-ca", "second-ca"])
def test_certificate_from_any_trusted_ca_logs_in(portal_with_trust, cas, make_user, session, ca_index):
    user = make_user("bidder", password=None, cert_subject_serial=f"91140500SERIAL{ca_index}")
    leaf = issue_leaf(cas[ca_index], common_name="张三", subject_serial=user.cert_subject_serial)
    response = _cert_login(portal_with_trust, leaf)
    assert response.status_code == 200, response.text
    me = portal_with_trust.get("/me", headers={"Authorization": f"Bearer {response.json()['access_token']}"})
    assert me.json()["id"] == str(user.id)
    event = session.scalars(select(OutboxEvent).where(OutboxEvent.action == "login.certificate")).one()
    assert event.object_id == str(user.id)
    assert event.change["issuer"] == cas[ca_index].cert.subject.rfc4514_string()


def test_via_intermediate(portal_with_trust, cas, make_user):
    intermediate = make_ca("Sub CA", parent=cas[1])
    user = make_user("bidder", password=None, cert_subject_serial="SERIAL-INTERMEDIATE")
    leaf = issue_leaf(intermediate, common_name="李四", subject_serial=user.cert_subject_serial)
    assert _cert_login(portal_with_trust, leaf, intermediates=[intermediate]).status_code == 200
    assert _cert_login(portal_with_trust, leaf).status_code == 401  # chain incomplete


def test_untrusted_ca_is_refused(portal_with_trust, make_user):
    user = make_user("bidder", password=None, cert_subject_serial="SERIAL-UNTRUSTED")
    leaf = issue_leaf(make_ca("Rogue CA"), common_name="王五", subject_serial=user.cert_subject_serial)
    response = _cert_login(portal_with_trust, leaf)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_certificate"
    assert response.json()["error"]["details"]["reason"] == "untrusted_chain"


def test_expired_certificate_is_refused(portal_with_trust, cas, make_user):
    user = make_user("bidder", password=None, cert_subject_serial="SERIAL-EXPIRED")
    now = datetime.now(UTC)
    leaf = issue_leaf(
        cas[0],
        common_name="赵六",
        subject_serial=user.cert_subject_serial,
        not_before=now - timedelta(days=30),
        not_after=now - timedelta(days=1),
    )
    assert _cert_login(portal_with_trust, leaf).json()["error"]["details"]["reason"] == "expired"


def test_signature_must_match_challenge_and_key(portal_with_trust, cas, make_user):
    user = make_user("bidder", password=None, cert_subject_serial="SERIAL-SIG")
    leaf = issue_leaf(cas[0], common_name="钱七", subject_serial=user.cert_subject_serial)
    other = issue_leaf(cas[0], common_name="孙八", subject_serial="SOMEONE-ELSE")
    assert _cert_login(portal_with_trust, leaf, tamper=True).json()["error"]["details"]["reason"] == "bad_signature"
    assert _cert_login(portal_with_trust, leaf, sign_with=other).json()["error"]["details"]["reason"] == "bad_signature"


def test_unbound_certificate_is_refused(portal_with_trust, cas):
    leaf = issue_leaf(cas[0], common_name="周九", subject_serial="NOT-BOUND-TO-ANYONE")
    response = _cert_login(portal_with_trust, leaf)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "certificate_not_bound"


def test_challenge_is_single_use(portal_with_trust, cas, make_user):
    user = make_user("bidder", password=None, cert_subject_serial="SERIAL-REPLAY")
    leaf = issue_leaf(cas[0], common_name="吴十", subject_serial=user.cert_subject_serial)
    challenge = portal_with_trust.post("/auth/cert/challenge").json()
    body = {
        "challenge_id": challenge["challenge_id"],
        "certificate_pem": leaf.pem.decode(),
        "signature_b64": base64.b64encode(leaf.sign(challenge["sign_this"].encode())).decode(),
    }
    assert portal_with_trust.post("/auth/cert/login", json=body).status_code == 200
    replay = portal_with_trust.post("/auth/cert/login", json=body)
    assert replay.status_code == 401
    assert replay.json()["error"]["code"] == "invalid_challenge"


def test_malformed_input_is_a_clear_4xx(portal_with_trust):
    challenge = portal_with_trust.post("/auth/cert/challenge").json()
    bad_b64 = portal_with_trust.post(
        "/auth/cert/login",
        json={"challenge_id": challenge["challenge_id"], "certificate_pem": "garbage", "signature_b64": "!!!"},
    )
    assert bad_b64.status_code == 401
    assert bad_b64.json()["error"]["details"]["reason"] == "malformed"
    challenge = portal_with_trust.post("/auth/cert/challenge").json()
    garbage_pem = portal_with_trust.post(
        "/auth/cert/login",
        json={"challenge_id": challenge["challenge_id"], "certificate_pem": "garbage", "signature_b64": "AAAA"},
    )
    assert garbage_pem.status_code == 401
    assert garbage_pem.json()["error"]["details"]["reason"] == "malformed"
    assert portal_with_trust.post("/auth/cert/login", json={"challenge_id": "nope"}).status_code == 422
