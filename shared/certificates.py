"""X.509 verification for certificates of any CA in a trust list (数字证书互认): portal login, bid signatures.

Path building, signature checks, validity windows and basicConstraints/pathLen are delegated to
``cryptography.x509.verification``; only its WebPKI assumptions that do not fit Chinese CA practice are
relaxed (see ``_EE_POLICY`` and ``_CA_POLICY``). End-entity rules are checked here first so that a
rejection carries a precise reason rather than the library's free-text error.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import NameOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    Policy,
    PolicyBuilder,
    Store,
    VerificationError,
)

RejectionReason = Literal[
    "malformed",
    "untrusted_chain",
    "expired",
    "not_yet_valid",
    "key_usage",
    "not_end_entity",
    "bad_signature",
    "unsupported_key",
]

# Counts intermediates. Real Chinese CA hierarchies are root → one or two sub-CAs; anything deeper is
# more likely a crafted chain than a genuine one.
_MAX_CHAIN_DEPTH = 5


class CertificateRejected(Exception):
    """The presented certificate (or a signature made with it) must not be accepted for login."""

    def __init__(self, reason: RejectionReason, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason: RejectionReason = reason
        self.message = message


@dataclass(frozen=True)
class CertificateIdentity:
    # OID 2.5.4.5: Chinese CAs put the resident ID number or unified social credit code here.
    subject_serial: str | None
    common_name: str | None
    issuer: str
    serial_number: str
    fingerprint_sha256: str
    not_after: datetime


class TrustStore:
    """The CA certificates whose end-entity certificates are accepted for login."""

    def __init__(self, anchors: Iterable[x509.Certificate]) -> None:
        unique: dict[bytes, x509.Certificate] = {}
        for cert in anchors:
            if not _asserts_ca(cert):
                # A leaf configured as a trust anchor is an operator mistake; fail at startup, not at login.
                raise ValueError(f"trust anchor is not a CA certificate: {cert.subject.rfc4514_string()}")
            unique.setdefault(cert.fingerprint(hashes.SHA256()), cert)
        self._anchors = tuple(unique.values())
        # The library refuses to build an empty Store, yet an empty trust list is a legitimate
        # configuration (certificate login switched off), so that case is handled in verify_certificate.
        self._store = Store(list(self._anchors)) if self._anchors else None

    @classmethod
    def from_pem(cls, pem_blobs: list[bytes]) -> TrustStore:
        anchors: list[x509.Certificate] = []
        for index, blob in enumerate(pem_blobs):
            try:
                anchors.extend(x509.load_pem_x509_certificates(blob))
            except ValueError as exc:
                raise ValueError(f"CA bundle #{index} holds no readable PEM certificate: {exc}") from exc
        return cls(anchors)

    @classmethod
    def from_pem_files(cls, paths: list[Path]) -> TrustStore:
        return cls.from_pem([path.read_bytes() for path in paths])

    @property
    def anchors(self) -> tuple[x509.Certificate, ...]:
        return self._anchors

    def __len__(self) -> int:
        return len(self._anchors)


def _require_ca(_policy: Policy, cert: x509.Certificate, ext: x509.BasicConstraints) -> None:
    # The library already enforces cA on issuers; restated because this validator replaces its default.
    if not ext.ca:
        raise ValueError(f"issuer {cert.subject.rfc4514_string()} is not a CA")


# Leaf: Chinese CA certificates commonly carry neither subjectAltName nor extendedKeyUsage clientAuth,
# which the WebPKI defaults demand. keyUsage and basicConstraints are checked in _check_leaf instead.
# permit_all still rejects unknown critical extensions.
_EE_POLICY = ExtensionPolicy.permit_all()

# Issuers: WebPKI defaults (keyUsage keyCertSign, cA, pathLen), except
# - an EKU on a sub-CA is not required to list clientAuth, because the leaf's own EKU is not checked either;
# - basicConstraints need not be marked critical: some older national roots omit the flag, and criticality
#   only governs parsers that do not understand the extension, which is not the case here.
_CA_POLICY = (
    ExtensionPolicy.webpki_defaults_ca()
    .may_be_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, None)
    .require_present(x509.BasicConstraints, Criticality.AGNOSTIC, _require_ca)
)


def verify_certificate(
    leaf_pem: bytes,
    intermediates_pem: list[bytes],
    store: TrustStore,
    *,
    at: datetime,
) -> CertificateIdentity:
    """Validate ``leaf_pem`` up to one of ``store``'s CAs as of ``at`` and return who it names.

    ``intermediates_pem`` are untrusted helpers for path building; each blob may hold several certificates.
    """
    if at.tzinfo is None:
        raise ValueError("verification time must be timezone-aware")
    at = at.astimezone(UTC)

    leaf = _load_one(leaf_pem)
    intermediates = [cert for blob in intermediates_pem for cert in _load_all(blob)]
    _check_leaf(leaf, at)
    identity = _identity(leaf)

    if store._store is None:
        raise CertificateRejected("untrusted_chain", "no CA is configured as trusted")
    verifier = (
        PolicyBuilder()
        .store(store._store)
        .time(at)
        .max_chain_depth(_MAX_CHAIN_DEPTH)
        .extension_policies(ca_policy=_CA_POLICY, ee_policy=_EE_POLICY)
        .build_client_verifier()
    )
    try:
        verifier.verify(leaf, intermediates)
    except VerificationError as exc:
        raise _explain_failure(leaf, [*intermediates, *store.anchors], at, exc) from exc
    return identity


def verify_signature(identity_cert_pem: bytes, message: bytes, signature: bytes) -> None:
    """Check that ``signature`` over ``message`` was made with the certificate's private key.

    Accepted forms: ECDSA/SHA-256 (DER), RSA PKCS#1 v1.5/SHA-256, Ed25519.
    """
    cert = _load_one(identity_cert_pem)
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        # e.g. SM2 keys, which the underlying OpenSSL build cannot load.
        raise CertificateRejected("unsupported_key", f"cannot load the certificate's public key: {exc}") from exc
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, message)
        else:
            raise CertificateRejected("unsupported_key", f"{type(key).__name__} keys are not accepted")
    except InvalidSignature as exc:
        raise CertificateRejected("bad_signature", "signature does not match the certificate's key") from exc


def _load_all(pem: bytes) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise CertificateRejected("malformed", f"not a PEM certificate: {exc}") from exc


def _load_one(pem: bytes) -> x509.Certificate:
    certs = _load_all(pem)
    if len(certs) != 1:
        # Guessing which of several certificates is "the" leaf would let the client choose the identity.
        raise CertificateRejected("malformed", f"expected exactly one certificate, got {len(certs)}")
    return certs[0]


def _asserts_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _check_validity(cert: x509.Certificate, at: datetime, what: str) -> None:
    if at < cert.not_valid_before_utc:
        raise CertificateRejected(
            "not_yet_valid", f"{what} is not valid before {cert.not_valid_before_utc.isoformat()}"
        )
    if at > cert.not_valid_after_utc:
        raise CertificateRejected("expired", f"{what} expired at {cert.not_valid_after_utc.isoformat()}")


def _check_leaf(leaf: x509.Certificate, at: datetime) -> None:
    try:
        extensions = leaf.extensions
    except ValueError as exc:
        raise CertificateRejected("malformed", f"unparsable certificate extension: {exc}") from exc
    _check_validity(leaf, at, "certificate")
    try:
        key_usage: x509.KeyUsage | None = extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        key_usage = None
    if _asserts_ca(leaf) or (key_usage is not None and key_usage.key_cert_sign):
        # A CA key logging in as a person or company would also be able to mint further identities.
        raise CertificateRejected("not_end_entity", "a CA certificate cannot be used to log in")
    # Strict on absence too: login is a signature, and a certificate that does not say its key may sign
    # was issued for something else (encryption certificates of dual-certificate USB keys, typically).
    if key_usage is None:
        raise CertificateRejected("key_usage", "certificate has no keyUsage extension")
    if not key_usage.digital_signature:
        raise CertificateRejected("key_usage", "certificate key is not allowed for digital signatures")


def _attribute_values(name: x509.Name, oid: x509.ObjectIdentifier) -> list[str]:
    # Only x500UniqueIdentifier is typed as bytes; decoding keeps the signature total without failing logins.
    return [
        attr.value if isinstance(attr.value, str) else attr.value.decode("utf-8", "replace")
        for attr in name.get_attributes_for_oid(oid)
    ]


def _identity(leaf: x509.Certificate) -> CertificateIdentity:
    serials = set(_attribute_values(leaf.subject, NameOID.SERIAL_NUMBER))
    if len(serials) > 1:
        # The serial number is the account key; two differing values would make the identity ambiguous.
        raise CertificateRejected("malformed", f"subject has {len(serials)} different serialNumber values")
    common_names = _attribute_values(leaf.subject, NameOID.COMMON_NAME)
    return CertificateIdentity(
        subject_serial=next(iter(serials), None),
        common_name=common_names[0] if common_names else None,
        issuer=leaf.issuer.rfc4514_string(),
        serial_number=format(leaf.serial_number, "x"),
        fingerprint_sha256=leaf.fingerprint(hashes.SHA256()).hex(),
        not_after=leaf.not_valid_after_utc,
    )


def _explain_failure(
    leaf: x509.Certificate,
    candidates: list[x509.Certificate],
    at: datetime,
    error: VerificationError,
) -> CertificateRejected:
    """Turn the library's free-text failure into a reason.

    Walks every issuer that genuinely signed something on the way up from the leaf; if one of them is out
    of its validity window that is what the user needs to hear (renew the sub-CA bundle, fix the clock).
    Otherwise no trusted path exists. This only explains a rejection; it never accepts anything.
    """
    frontier = [leaf]
    seen = {leaf.fingerprint(hashes.SHA256())}
    for _ in range(_MAX_CHAIN_DEPTH + 1):
        reached: list[x509.Certificate] = []
        for cert in frontier:
            for issuer in candidates:
                fingerprint = issuer.fingerprint(hashes.SHA256())
                if fingerprint in seen or issuer.subject != cert.issuer:
                    continue
                try:
                    cert.verify_directly_issued_by(issuer)
                except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
                    continue
                seen.add(fingerprint)
                try:
                    _check_validity(issuer, at, f"issuing CA {issuer.subject.rfc4514_string()}")
                except CertificateRejected as rejected:
                    return rejected
                reached.append(issuer)
        frontier = reached
    return CertificateRejected("untrusted_chain", f"no valid path to a trusted CA ({error})")
