"""Path validation and proof-of-possession for certificate login, against a PKI minted per test run."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed448
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from shared.certificates import (
    CertificateRejected,
    TrustStore,
    verify_certificate,
    verify_signature,
)
from tests.support.pki import IssuedCert, KeyType, issue_leaf, make_ca, new_key

NOW = datetime.now(UTC)
LONG_AGO = NOW - timedelta(days=400)
ID_NUMBER = "110101199003074518"
CREDIT_CODE = "91140500MA0K1234XY"


@pytest.fixture(scope="module")
def ca_a() -> IssuedCert:
    return make_ca("Shanxi CA A")


@pytest.fixture(scope="module")
def ca_b() -> IssuedCert:
    return make_ca("National CA B", key_type="rsa")


@pytest.fixture(scope="module")
def ca_b_sub(ca_b: IssuedCert) -> IssuedCert:
    return make_ca("National CA B Sub", parent=ca_b)


@pytest.fixture(scope="module")
def store(ca_a: IssuedCert, ca_b: IssuedCert) -> TrustStore:
    return TrustStore.from_pem([ca_a.pem, ca_b.pem])


def rejection(leaf: IssuedCert, store: TrustStore, intermediates: list[IssuedCert] | None = None) -> str:
    with pytest.raises(CertificateRejected) as info:
        verify_certificate(leaf.pem, [c.pem for c in intermediates or []], store, at=NOW)
    return info.value.reason


# --- accepted chains ---------------------------------------------------------------------------------


def test_ec_leaf_from_ca_a_verifies(ca_a: IssuedCert, store: TrustStore) -> None:
    leaf = issue_leaf(ca_a, common_name="张三", subject_serial=ID_NUMBER)
    identity = verify_certificate(leaf.pem, [], store, at=NOW)
    assert identity.subject_serial == ID_NUMBER


def test_leaf_from_second_recognised_ca_verifies(ca_a: IssuedCert, ca_b: IssuedCert, store: TrustStore) -> None:
    leaf = issue_leaf(ca_b, common_name="晋城市某建设有限公司", subject_serial=CREDIT_CODE, key_type="rsa")
    assert verify_certificate(leaf.pem, [], store, at=NOW).subject_serial == CREDIT_CODE
    # Same leaf against a store that only recognises A: B's presence is what made it pass.
    assert rejection(leaf, TrustStore.from_pem([ca_a.pem])) == "untrusted_chain"


def test_leaf_via_intermediate_verifies_when_intermediate_is_sent(ca_b_sub: IssuedCert, store: TrustStore) -> None:
    leaf = issue_leaf(ca_b_sub, common_name="李四", subject_serial=ID_NUMBER, key_type="ed25519")
    identity = verify_certificate(leaf.pem, [ca_b_sub.pem], store, at=NOW)
    assert identity.issuer == ca_b_sub.cert.subject.rfc4514_string()


def test_leaf_with_other_extended_key_usage_and_no_san_verifies(ca_a: IssuedCert, store: TrustStore) -> None:
    # Chinese CA certificates rarely carry clientAuth or a subjectAltName; WebPKI defaults would refuse them.
    leaf = issue_leaf(
        ca_a,
        common_name="王五",
        subject_serial=ID_NUMBER,
        extended_key_usage=[ExtendedKeyUsageOID.EMAIL_PROTECTION],
    )
    assert verify_certificate(leaf.pem, [], store, at=NOW).common_name == "王五"


def test_trust_store_loads_bundles_from_files(tmp_path: Path, ca_a: IssuedCert, ca_b: IssuedCert) -> None:
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(ca_a.pem + ca_b.pem)
    store = TrustStore.from_pem_files([bundle])
    assert len(store) == 2
    leaf = issue_leaf(ca_b, common_name="赵六", subject_serial=ID_NUMBER)
    assert verify_certificate(leaf.pem, [], store, at=NOW).subject_serial == ID_NUMBER


# --- rejected chains ---------------------------------------------------------------------------------


def test_missing_intermediate_is_rejected(ca_b_sub: IssuedCert, store: TrustStore) -> None:
    leaf = issue_leaf(ca_b_sub, common_name="李四", subject_serial=ID_NUMBER)
    assert rejection(leaf, store) == "untrusted_chain"


def test_leaf_from_unrecognised_ca_is_rejected(store: TrustStore) -> None:
    leaf = issue_leaf(make_ca("Unknown CA C"), common_name="张三", subject_serial=ID_NUMBER)
    assert rejection(leaf, store) == "untrusted_chain"


def test_self_signed_leaf_claiming_ca_a_is_rejected(ca_a: IssuedCert, store: TrustStore) -> None:
    leaf = issue_leaf(ca_a, common_name="张三", subject_serial=ID_NUMBER, self_signed=True)
    assert leaf.cert.issuer == ca_a.cert.subject
    assert rejection(leaf, store) == "untrusted_chain"


def test_leaf_from_impostor_ca_with_ca_a_name_is_rejected(store: TrustStore) -> None:
    impostor = make_ca("Shanxi CA A")
    leaf = issue_leaf(impostor, common_name="张三", subject_serial=ID_NUMBER)
    assert rejection(leaf, store, [impostor]) == "untrusted_chain"


def test_end_entity_acting_as_issuer_is_rejected(ca_a: IssuedCert, store: TrustStore) -> None:
    person = issue_leaf(ca_a, common_name="张三", subject_serial=ID_NUMBER)
    minted = issue_leaf(person, common_name="李四", subject_serial="110101199001010011")
    assert rejection(minted, store, [person]) == "untrusted_chain"


def test_path_length_constraint_is_enforced(ca_a: IssuedCert) -> None:
    root = make_ca("Constrained Root", path_length=0)
    sub = make_ca("Constrained Sub", parent=root)
    leaf = issue_leaf(sub, common_name="张三", subject_serial=ID_NUMBER)
    assert rejection(leaf, TrustStore.from_pem([root.pem]), [sub]) == "untrusted_chain"
    # The same shape under a root without pathLen passes, so the constraint is what failed above.
    free_root = make_ca("Free Root")
    free_sub = make_ca("Free Sub", parent=free_root)
    ok = issue_leaf(free_sub, common_name="张三", subject_serial=ID_NUMBER)
    verify_certificate(ok.pem, [free_sub.pem], TrustStore.from_pem([free_root.pem]), at=NOW)


def test_chain_deeper_than_five_intermediates_is_rejected() -> None:
    root = make_ca("Deep Root")
    subs = [root]
    for level in range(6):
        subs.append(make_ca(f"Deep Sub {level}", parent=subs[-1]))
    store = TrustStore.from_pem([root.pem])
    five_deep = issue_leaf(subs[5], common_name="张三", subject_serial=ID_NUMBER)
    verify_certificate(five_deep.pem, [c.pem for c in subs[1:6]], store, at=NOW)
    six_deep = issue_leaf(subs[6], common_name="张三", subject_serial=ID_NUMBER)
    assert rejection(six_deep, store, subs[1:]) == "untrusted_chain"


def test_empty_store_rejects_everything(ca_a: IssuedCert) -> None:
    leaf = issue_leaf(ca_a, common_name="张三", subject_serial=ID_NUMBER)
    assert rejection(leaf, TrustStore.from_pem([])) == "untrusted_chain"


# --- validity windows --------------------------------------------------------------------------------


def test_expired_leaf_is_rejected(ca_a: IssuedCert, store: TrustStore) -> None:
    leaf = issue_leaf(
        ca_a,
        common_name="张三",
        subject_serial=ID_NUMBER,
        not_before=LONG_AGO,
        not_after=NOW - timedelta(days=1),
    )
    assert rejection(leaf, store) == "expired"


def test_not_yet_valid_leaf_is_rejected(ca_a: IssuedCert, store: TrustStore) -> None:
    leaf = issue_leaf(ca_a, common_name="张三", subject_serial=ID_NUMBER, not_before=NOW + timedelta(days=1))
    assert rejection(leaf, store) == "not_yet_valid"


def test_verification_time_is_the_one_given(ca_a: IssuedCert, store: TrustStore) -> None:
    leaf = issue_leaf(ca_a, common_name="张三", subject_serial=ID_NUMBER)
    after_expiry = leaf.cert.not_valid_after_utc + timedelta(seconds=1)
    with pytest.raises(CertificateRejected) as info:
        verify_certificate(leaf.pem, [], store, at=after_expiry)
    assert info.value.reason == "expired"


def test_expired_intermediate_is_rejected(ca_b: IssuedCert, store: TrustStore) -> None:
    stale_sub = make_ca("National CA B Sub", parent=ca_b, not_before=LONG_AGO, not_after=NOW - timedelta(days=1))
    leaf = issue_leaf(stale_sub, common_name="李四", subject_serial=ID_NUMBER)
    assert rejection(leaf, store, [stale_sub]) == "expired"


def test_expired_root_is_rejected() -> None:
    root = make_ca("Retired Root", not_before=LONG_AGO, not_after=NOW - timedelta(days=1))
    leaf = issue_leaf(root, common_name="张三", subject_serial=ID_NUMBER)
    assert rejection(leaf, TrustStore.from_pem([root.pem])) == "expired"


def test_naive_verification_time_is_a_programming_error(ca_a: IssuedCert, store: TrustStore) -> None:
    leaf = issue_leaf(ca_a, common_name="张三", subject_serial=ID_NUMBER)
    with pytest.raises(ValueError, match="timezone-aware"):
        verify_certificate(leaf.pem, [], store, at=NOW.replace(tzinfo=None))


# --- leaf profile ------------------------------------------------------------------------------------


def test_leaf_without_digital_signature_is_rejected(ca_a: IssuedCert, store: TrustStore) -> None:
    leaf = issue_leaf(ca_a, common_name="张三", subject_serial=ID_NUMBER, key_usage_digital_signature=False)
    assert rejection(leaf, store) == "key_usage"


def test_leaf_without_key_usage_is_rejected(ca_a: IssuedCert, store: TrustStore) -> None:
    leaf = issue_leaf(ca_a, common_name="张三", subject_serial=ID_NUMBER, key_usage_digital_signature=None)
    assert rejection(leaf, store) == "key_usage"


def test_ca_certificate_presented_as_leaf_is_rejected(
    ca_a: IssuedCert, ca_b_sub: IssuedCert, store: TrustStore
) -> None:
    assert rejection(ca_b_sub, store) == "not_end_entity"
    assert rejection(ca_a, store) == "not_end_entity"
    ca_flagged = issue_leaf(ca_a, common_name="张三", subject_serial=ID_NUMBER, is_ca=True)
    assert rejection(ca_flagged, store) == "not_end_entity"


@pytest.mark.parametrize(
    "leaf_pem",
    [
        b"not a certificate",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        b"",
    ],
)
def test_garbage_pem_is_rejected(leaf_pem: bytes, store: TrustStore) -> None:
    with pytest.raises(CertificateRejected) as info:
        verify_certificate(leaf_pem, [], store, at=NOW)
    assert info.value.reason == "malformed"


def test_garbage_intermediate_is_rejected(ca_a: IssuedCert, store: TrustStore) -> None:
    leaf = issue_leaf(ca_a, common_name="张三", subject_serial=ID_NUMBER)
    with pytest.raises(CertificateRejected) as info:
        verify_certificate(leaf.pem, [b"junk"], store, at=NOW)
    assert info.value.reason == "malformed"


def test_several_certificates_as_leaf_are_rejected(ca_a: IssuedCert, store: TrustStore) -> None:
    first = issue_leaf(ca_a, common_name="张三", subject_serial=ID_NUMBER)
    second = issue_leaf(ca_a, common_name="李四", subject_serial="110101199001010011")
    with pytest.raises(CertificateRejected) as info:
        verify_certificate(first.pem + second.pem, [], store, at=NOW)
    assert info.value.reason == "malformed"


def test_trust_store_refuses_non_ca_anchor_and_unreadable_bundle(ca_a: IssuedCert) -> None:
    leaf = issue_leaf(ca_a, common_name="张三", subject_serial=ID_NUMBER)
    with pytest.raises(ValueError, match="not a CA"):
        TrustStore.from_pem([leaf.pem])
    with pytest.raises(ValueError, match="no readable PEM"):
        TrustStore.from_pem([b"junk"])


# --- identity ----------------------------------------------------------------------------------------


def test_identity_fields_are_extracted(ca_a: IssuedCert, store: TrustStore) -> None:
    leaf = issue_leaf(ca_a, common_name="晋城市某建设有限公司", subject_serial=CREDIT_CODE)
    identity = verify_certificate(leaf.pem, [], store, at=NOW)
    assert identity.subject_serial == CREDIT_CODE
    assert identity.common_name == "晋城市某建设有限公司"
    assert identity.issuer == "CN=Shanxi CA A,O=Shanxi CA A,C=CN"
    assert int(identity.serial_number, 16) == leaf.cert.serial_number
    assert identity.fingerprint_sha256 == hashlib.sha256(leaf.cert.public_bytes(Encoding.DER)).hexdigest()
    assert identity.not_after == leaf.cert.not_valid_after_utc


def test_identity_without_subject_serial(ca_a: IssuedCert, store: TrustStore) -> None:
    leaf = issue_leaf(ca_a, common_name="张三", subject_serial=None)
    assert verify_certificate(leaf.pem, [], store, at=NOW).subject_serial is None


# --- proof of possession -----------------------------------------------------------------------------

CHALLENGE = b"login-challenge:4f1c2a"


@pytest.mark.parametrize("key_type", ["ec", "rsa", "ed25519"])
def test_signature_by_certificate_key_is_accepted(ca_a: IssuedCert, key_type: KeyType) -> None:
    leaf = issue_leaf(ca_a, common_name="张三", subject_serial=ID_NUMBER, key_type=key_type)
    verify_signature(leaf.pem, CHALLENGE, leaf.sign(CHALLENGE))


@pytest.mark.parametrize("key_type", ["ec", "rsa", "ed25519"])
def test_signature_over_other_message_is_rejected(ca_a: IssuedCert, key_type: KeyType) -> None:
    leaf = issue_leaf(ca_a, common_name="张三", subject_serial=ID_NUMBER, key_type=key_type)
    with pytest.raises(CertificateRejected) as info:
        verify_signature(leaf.pem, CHALLENGE, leaf.sign(b"login-challenge:replayed"))
    assert info.value.reason == "bad_signature"


@pytest.mark.parametrize("key_type", ["ec", "rsa", "ed25519"])
def test_signature_by_another_key_is_rejected(ca_a: IssuedCert, key_type: KeyType) -> None:
    leaf = issue_leaf(ca_a, common_name="张三", subject_serial=ID_NUMBER, key_type=key_type)
    thief = IssuedCert(cert=leaf.cert, key=new_key(key_type))
    with pytest.raises(CertificateRejected) as info:
        verify_signature(leaf.pem, CHALLENGE, thief.sign(CHALLENGE))
    assert info.value.reason == "bad_signature"


def test_garbage_signature_is_rejected(ca_a: IssuedCert) -> None:
    leaf = issue_leaf(ca_a, common_name="张三", subject_serial=ID_NUMBER)
    with pytest.raises(CertificateRejected) as info:
        verify_signature(leaf.pem, CHALLENGE, b"\x00" * 10)
    assert info.value.reason == "bad_signature"


def test_unsupported_key_type_is_rejected(ca_a: IssuedCert) -> None:
    key = ed448.Ed448PrivateKey.generate()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "张三")]))
        .issuer_name(ca_a.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=1))
        .sign(ca_a.key, hashes.SHA256())
    )
    pem = IssuedCert(cert=cert, key=ca_a.key).pem
    with pytest.raises(CertificateRejected) as info:
        verify_signature(pem, CHALLENGE, key.sign(CHALLENGE))
    assert info.value.reason == "unsupported_key"
