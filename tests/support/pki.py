"""A throwaway PKI for certificate-login tests.

Real CA certificates cannot be checked in, so tests mint roots, intermediates and leaves on the fly with
the same shape Chinese CAs use: the ID number or unified social credit code in the subject serialNumber,
no subjectAltName and no extendedKeyUsage on the leaf.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import NameOID

KeyType = Literal["ec", "rsa", "ed25519"]
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


@dataclass(frozen=True)
class IssuedCert:
    cert: x509.Certificate
    key: PrivateKey

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def sign(self, message: bytes) -> bytes:
        """Sign the way a USB-key client does, i.e. the form ``verify_signature`` checks."""
        if isinstance(self.key, ec.EllipticCurvePrivateKey):
            return self.key.sign(message, ec.ECDSA(hashes.SHA256()))
        if isinstance(self.key, rsa.RSAPrivateKey):
            return self.key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        return self.key.sign(message)


def new_key(key_type: KeyType = "ec") -> PrivateKey:
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ed25519.Ed25519PrivateKey.generate()


def _hash_for(key: PrivateKey) -> hashes.SHA256 | None:
    # Ed25519 signs the message itself; passing a digest is an error.
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


def _window(not_before: datetime | None, not_after: datetime | None) -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return (not_before or now - timedelta(days=1), not_after or now + timedelta(days=365))


def make_ca(
    name: str,
    *,
    key_type: KeyType = "ec",
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    parent: IssuedCert | None = None,
    path_length: int | None = None,
) -> IssuedCert:
    """A self-signed root, or an intermediate when ``parent`` is given."""
    key = new_key(key_type)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )
    issuer_cert = parent.cert if parent else None
    signing_key = parent.key if parent else key
    start, end = _window(not_before, not_after)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject if issuer_cert else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer_cert is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()), critical=False
        )
    cert = builder.sign(signing_key, _hash_for(signing_key))
    return IssuedCert(cert=cert, key=key)


def issue_leaf(
    ca: IssuedCert,
    *,
    common_name: str,
    subject_serial: str | None,
    key_type: KeyType = "ec",
    key_usage_digital_signature: bool | None = True,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    is_ca: bool = False,
    extended_key_usage: list[x509.ObjectIdentifier] | None = None,
    self_signed: bool = False,
) -> IssuedCert:
    """An end-entity certificate naming ``ca`` as issuer and signed by it.

    ``key_usage_digital_signature=None`` leaves the keyUsage extension out altogether.
    ``self_signed=True`` forges it: the issuer name is still ``ca``'s but the leaf signs itself.
    """
    key = new_key(key_type)
    signing_key = key if self_signed else ca.key
    attributes = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ]
    if subject_serial is not None:
        attributes.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, subject_serial))
    start, end = _window(not_before, not_after)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(attributes))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()), critical=False)
    )
    if extended_key_usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(extended_key_usage), critical=False)
    if key_usage_digital_signature is not None:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=key_usage_digital_signature,
                content_commitment=not key_usage_digital_signature,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=is_ca,
                crl_sign=is_ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    cert = builder.sign(signing_key, _hash_for(signing_key))
    return IssuedCert(cert=cert, key=key)
