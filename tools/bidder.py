"""jincheng-bidder: the free reference tool that seals bids in the open JCBID1 format (docs/bid-envelope.md).

电子招标投标办法 Art. 16 forbids forcing bidders to buy a tool; this CLI and the published format mean nobody
has to. Commands::

    python -m tools.bidder seal --lot LOT --credit-code CODE --form form.json [--attach FILE ...]
                                --cert cert.pem [--chain ca.pem ...] --key key.pem --out bid.jcb
    python -m tools.bidder release-key bid.jcb.key.json
    python -m tools.bidder inspect bid.jcb [--trust ca.pem ...]
    python -m tools.bidder open bid.jcb --key bid.jcb.key.json --out dir/

Exit status: 0 success, 1 refused or failed (reason on stderr), 2 usage error.
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import json
import os
import platform
import sys
import uuid
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pydantic import ValidationError

from shared.certificates import TrustStore
from shared.envelope import (
    DEFAULT_TOOL,
    BidForm,
    CiphertextCounter,
    EnvelopeRejected,
    SigningKey,
    build_plaintext_zip,
    content_key_for,
    iter_chunks,
    key_release_for,
    load_signing_key,
    open_envelope,
    parse_key_release,
    read_bid_form,
    read_header,
    seal,
    signer_for,
    verify_header_identity,
    verify_header_signature,
)
from shared.envelope.codec import loads_strict

# Lets scripted sealing use an encrypted private key without a terminal prompt.
PASSWORD_ENV = "JINCHENG_BIDDER_KEY_PASSWORD"
# uuid.getnode() sets this bit when it could not read a MAC address and made one up.
_RANDOM_NODE_BIT = 1 << 40


class CommandFailed(Exception):
    """A readable failure of the tool itself (bad input file, wrong password), as opposed to a rejection."""


def machine_fingerprint() -> str | None:
    """A stable, hashed machine code (machine-id and MAC address), as bid tools declare it (domain §4).

    Hashed so that the envelope reveals "same machine as another bid", not the raw identifiers.
    """
    parts: list[str] = []
    for candidate in (Path("/etc/machine-id"), Path("/var/lib/dbus/machine-id")):
        try:
            parts.append("machine-id:" + candidate.read_text().strip())
            break
        except OSError:
            continue
    node = uuid.getnode()
    if not node & _RANDOM_NODE_BIT:
        parts.append(f"mac:{node:012x}")
    if not parts:
        # A hostname alone is too weak to be worth declaring as a machine code.
        return None
    parts.append("host:" + platform.node())
    return "sha256:" + hashlib.sha256("|".join(parts).encode()).hexdigest()


def _load_key(path: Path) -> SigningKey:
    pem = path.read_bytes()
    try:
        return load_signing_key(pem)
    except TypeError:
        # cryptography raises TypeError when the PEM is encrypted and no password was given.
        pass
    secret = os.environ.get(PASSWORD_ENV)
    if secret is None:
        if not sys.stdin.isatty():
            raise CommandFailed(f"{path} is encrypted: set {PASSWORD_ENV} or run in a terminal") from None
        secret = getpass.getpass(f"password for {path}: ")
    try:
        return load_signing_key(pem, secret.encode())
    except ValueError as exc:
        raise CommandFailed(f"cannot decrypt {path}: {exc}") from exc


def _certificates(path: Path) -> list[bytes]:
    try:
        certs = x509.load_pem_x509_certificates(path.read_bytes())
    except ValueError as exc:
        raise CommandFailed(f"{path} holds no PEM certificate: {exc}") from exc
    return [cert.public_bytes(serialization.Encoding.PEM) for cert in certs]


def _load_form(path: Path) -> BidForm:
    try:
        return BidForm.model_validate(loads_strict(path.read_bytes()))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise CommandFailed(f"{path} is not a valid bid form: {problems}") from exc
    except (ValueError, UnicodeError) as exc:
        raise CommandFailed(f"{path} is not UTF-8 JSON: {exc}") from exc


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` readable by the owner only (0600), also when ``path`` already existed."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        # O_CREAT's mode is ignored for an existing file and filtered by the umask for a new one.
        os.fchmod(fd, 0o600)
        os.write(fd, data)
    finally:
        os.close(fd)


def key_file_for(envelope: Path) -> Path:
    return envelope.with_name(envelope.name + ".key.json")


def cmd_seal(args: argparse.Namespace) -> int:
    form = _load_form(args.form)
    certificate = _certificates(args.cert)
    if len(certificate) != 1:
        raise CommandFailed(f"{args.cert} must hold exactly one certificate (put CA certificates in --chain)")
    chain = [pem for path in args.chain for pem in _certificates(path)]
    key = _load_key(args.key)
    fingerprint = args.device_fingerprint if args.device_fingerprint is not None else machine_fingerprint()
    out: Path = args.out
    plaintext = build_plaintext_zip(form, list(args.attach))
    try:
        envelope, content_key = seal(
            plaintext,
            out=out,
            lot_id=args.lot,
            bidder_credit_code=args.credit_code,
            certificate_pem=certificate[0],
            chain_pem=chain,
            signer=signer_for(key),
            device_fingerprint=fingerprint or None,
            document_author=args.author,
            tool=DEFAULT_TOOL,
        )
    finally:
        # The unencrypted bid must not outlive the sealing.
        plaintext.unlink(missing_ok=True)
    with envelope.open("rb") as stream:
        header, _ = read_header(stream)
    key_path = key_file_for(envelope)
    write_private(key_path, key_release_for(header.signed, content_key).to_json() + b"\n")
    print(f"sealed bid:        {envelope}")
    print(f"ciphertext SHA-256: {header.signed.ciphertext_sha256}")
    print(f"decryption key:    {key_path} (mode 0600)")
    print("Keep the key file secret until opening, and do not lose it: without it the bid cannot be decrypted.")
    return 0


def cmd_release_key(args: argparse.Namespace) -> int:
    release = parse_key_release(args.key_file.read_bytes())
    print(release.to_json().decode())
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    with args.envelope.open("rb") as stream:
        header, raw = read_header(stream)
        summary = header.model_dump(mode="json")
        print(json.dumps(summary, ensure_ascii=False, indent=2, sort_keys=True))
        print(f"header: {len(raw)} bytes")
        verify_header_signature(header)
        print("signature: valid (made with the key of the enclosed certificate)")
        if args.trust:
            store = TrustStore.from_pem_files(list(args.trust))
            identity = verify_header_identity(header, store, at=datetime.now(UTC))
            print(f"certificate: trusted, subject serial {identity.subject_serial} = bidder_credit_code")
        else:
            print("certificate: chain not checked (pass --trust ca.pem to check it)")
        counter = CiphertextCounter(header.signed)
        for chunk in iter_chunks(stream):
            counter.update(chunk)
        counter.check()
        print(f"ciphertext: {counter.length} bytes, SHA-256 matches the signed digest")
    return 0


def cmd_open(args: argparse.Namespace) -> int:
    release = parse_key_release(args.key.read_bytes())
    out_dir: Path = args.out
    out_dir.mkdir(parents=True, exist_ok=True)
    envelope: Path = args.envelope
    plaintext = out_dir / (envelope.stem + ".zip")
    with envelope.open("rb") as stream:
        header, _ = read_header(stream)
        verify_header_signature(header)
        content_key = content_key_for(release, header.signed)
        open_envelope(iter_chunks(stream), header.signed, content_key, plaintext)
    form = read_bid_form(plaintext)
    extracted = out_dir / envelope.stem
    with zipfile.ZipFile(plaintext) as archive:
        # read_bid_form has refused any entry outside bid-form.json and attachments/.
        archive.extractall(extracted)
        names = archive.namelist()
    print(f"decrypted: {plaintext} (tag and plaintext SHA-256 verified)")
    print(f"extracted: {extracted}")
    print(json.dumps(form.model_dump(mode="json"), ensure_ascii=False, indent=2, sort_keys=True))
    for name in names:
        print(f"  {name}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jincheng-bidder", description="Seal and check JCBID1 bid envelopes.")
    parser.add_argument("--version", action="version", version=DEFAULT_TOOL)
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("seal", help="encrypt and sign a bid")
    p.add_argument("--lot", required=True, help="lot id as the platform shows it")
    p.add_argument("--credit-code", required=True, help="bidder's unified social credit code (must be in the cert)")
    p.add_argument("--form", required=True, type=Path, help="bid form JSON (price_fen, duration_days, ...)")
    p.add_argument("--attach", action="append", default=[], type=Path, metavar="FILE", help="attachment (repeat)")
    p.add_argument("--cert", required=True, type=Path, help="bidder certificate (PEM)")
    p.add_argument("--chain", action="append", default=[], type=Path, metavar="PEM", help="intermediate CA (repeat)")
    p.add_argument("--key", required=True, type=Path, help=f"certificate's private key (PEM; password: {PASSWORD_ENV})")
    p.add_argument("--device-fingerprint", help="machine code to declare (default: hashed machine-id and MAC)")
    p.add_argument("--author", help="document author to declare")
    p.add_argument("--out", required=True, type=Path, help="envelope to write, e.g. bid.jcb")
    p.set_defaults(handler=cmd_seal)

    p = commands.add_parser("release-key", help="print the key-release JSON to send at opening")
    p.add_argument("key_file", type=Path)
    p.set_defaults(handler=cmd_release_key)

    p = commands.add_parser("inspect", help="print the header and verify signature, chain and digest")
    p.add_argument("envelope", type=Path)
    p.add_argument("--trust", action="append", default=[], type=Path, metavar="PEM", help="trusted CA (repeat)")
    p.set_defaults(handler=cmd_inspect)

    p = commands.add_parser("open", help="decrypt your own bid locally to check it")
    p.add_argument("envelope", type=Path)
    p.add_argument("--key", required=True, type=Path, help="key file written by seal")
    p.add_argument("--out", required=True, type=Path, help="directory for the decrypted archive")
    p.set_defaults(handler=cmd_open)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        status: int = args.handler(args)
    except EnvelopeRejected as exc:
        print(f"refused ({exc.reason}): {exc.message}", file=sys.stderr)
        return 1
    except (CommandFailed, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
