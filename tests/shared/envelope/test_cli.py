"""The reference CLI end to end, as a bidder runs it: ``python -m tools.bidder``."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from shared.envelope import load_signing_key, read_header
from tests.shared.envelope.conftest import CREDIT_CODE, LOT_ID, OTHER_CREDIT_CODE
from tests.support.pki import IssuedCert, PrivateKey, issue_leaf, make_ca

ROOT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class Files:
    directory: Path
    form: Path
    attachment: Path
    cert: Path
    key: Path
    sub_ca: Path
    root_ca: Path
    other_ca: Path
    scratch: Path  # TMPDIR of the CLI: must be empty afterwards


def _key_pem(key: PrivateKey, password: bytes | None = None) -> bytes:
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


@pytest.fixture
def files(tmp_path: Path, ca: IssuedCert, other_ca: IssuedCert) -> Files:
    sub = make_ca("Shanxi Test Sub-CA", parent=ca)
    leaf = issue_leaf(sub, common_name="晋城市某建设有限公司", subject_serial=CREDIT_CODE)
    form = tmp_path / "form.json"
    form.write_text(
        json.dumps(
            {
                "price_fen": 98_765_432,
                "duration_days": 200,
                "quality": "合格",
                "project_manager": {"name": "李四", "certificate_no": "晋114050800001"},
                "extra": {},
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    attachment = tmp_path / "资格证明.pdf"
    attachment.write_bytes(b"%PDF-1.7\nqualification\n")
    paths = {name: tmp_path / f"{name}.pem" for name in ("cert", "key", "sub_ca", "root_ca", "other_ca")}
    paths["cert"].write_bytes(leaf.pem)
    paths["key"].write_bytes(_key_pem(leaf.key))
    paths["sub_ca"].write_bytes(sub.pem)
    paths["root_ca"].write_bytes(ca.pem)
    paths["other_ca"].write_bytes(other_ca.pem)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    return Files(tmp_path, form, attachment, scratch=scratch, **paths)


def bidder(*args: str | Path, files: Files, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {name: value for name, value in os.environ.items() if name != "JINCHENG_BIDDER_KEY_PASSWORD"}
    environment.update({"TMPDIR": str(files.scratch), **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "tools.bidder", *map(str, args)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def seal_args(files: Files, out: Path, *extra: str | Path) -> list[str | Path]:
    return [
        "seal",
        "--lot",
        LOT_ID,
        "--credit-code",
        CREDIT_CODE,
        "--form",
        files.form,
        "--attach",
        files.attachment,
        "--cert",
        files.cert,
        "--chain",
        files.sub_ca,
        "--key",
        files.key,
        "--out",
        out,
        *extra,
    ]


def test_seal_inspect_release_open(files: Files) -> None:
    envelope = files.directory / "bid.jcb"
    sealed = bidder(*seal_args(files, envelope, "--author", "张三", "--device-fingerprint", "PC-01"), files=files)
    assert sealed.returncode == 0, sealed.stderr
    key_file = files.directory / "bid.jcb.key.json"
    assert str(envelope) in sealed.stdout
    assert str(key_file) in sealed.stdout
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # The temporary plaintext archive is gone: nothing unencrypted is left behind.
    assert list(files.scratch.iterdir()) == []

    with envelope.open("rb") as stream:
        header, _ = read_header(stream)
    assert header.signed.declared.document_author == "张三"
    assert header.signed.declared.device_fingerprint == "PC-01"
    assert len(header.chain) == 1

    release = bidder("release-key", key_file, files=files)
    assert release.returncode == 0, release.stderr
    document = json.loads(release.stdout)
    assert document == json.loads(key_file.read_text())
    assert document["lot_id"] == LOT_ID
    assert document["envelope_sha256"] == header.signed.ciphertext_sha256
    assert set(document) == {"lot_id", "envelope_sha256", "content_key"}

    trusted = bidder("inspect", envelope, "--trust", files.root_ca, files=files)
    assert trusted.returncode == 0, trusted.stderr
    assert "signature: valid" in trusted.stdout
    assert f"certificate: trusted, subject serial {CREDIT_CODE}" in trusted.stdout
    assert "SHA-256 matches" in trusted.stdout
    assert LOT_ID in trusted.stdout

    unchecked = bidder("inspect", envelope, files=files)
    assert unchecked.returncode == 0, unchecked.stderr
    assert "chain not checked" in unchecked.stdout

    untrusted = bidder("inspect", envelope, "--trust", files.other_ca, files=files)
    assert untrusted.returncode == 1
    assert "untrusted_certificate" in untrusted.stderr

    out_dir = files.directory / "opened"
    opened = bidder("open", envelope, "--key", key_file, "--out", out_dir, files=files)
    assert opened.returncode == 0, opened.stderr
    assert "98765432" in opened.stdout
    assert (out_dir / "bid" / "bid-form.json").is_file()
    assert (out_dir / "bid" / "attachments" / files.attachment.name).read_bytes() == files.attachment.read_bytes()


def test_key_file_is_0600_even_when_it_existed_with_wider_mode(files: Files) -> None:
    envelope = files.directory / "bid.jcb"
    key_file = files.directory / "bid.jcb.key.json"
    key_file.write_text("old")
    key_file.chmod(0o644)
    result = bidder(*seal_args(files, envelope), files=files)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert json.loads(key_file.read_text())["lot_id"] == LOT_ID


def test_inspect_refuses_a_plain_zip(files: Files) -> None:
    plain = files.directory / "bid.zip"
    plain.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    result = bidder("inspect", plain, files=files)
    assert result.returncode == 1
    assert "not_an_envelope" in result.stderr


def test_inspect_detects_a_flipped_ciphertext_byte(files: Files) -> None:
    envelope = files.directory / "bid.jcb"
    assert bidder(*seal_args(files, envelope), files=files).returncode == 0
    data = bytearray(envelope.read_bytes())
    data[-1] ^= 0x01
    envelope.write_bytes(bytes(data))
    result = bidder("inspect", envelope, files=files)
    assert result.returncode == 1
    assert "digest_mismatch" in result.stderr
    opened = bidder("open", envelope, "--key", f"{envelope}.key.json", "--out", files.directory / "o", files=files)
    assert opened.returncode == 1
    assert "wrong_key" in opened.stderr


def test_seal_refuses_a_credit_code_not_in_the_certificate(files: Files) -> None:
    envelope = files.directory / "bid.jcb"
    args = seal_args(files, envelope)
    args[args.index(CREDIT_CODE)] = OTHER_CREDIT_CODE
    result = bidder(*args, files=files)
    assert result.returncode == 1
    assert "identity_mismatch" in result.stderr
    assert not envelope.exists()
    assert not (files.directory / "bid.jcb.key.json").exists()
    assert list(files.scratch.iterdir()) == []


def test_seal_refuses_a_float_price(files: Files) -> None:
    form = json.loads(files.form.read_text())
    form["price_fen"] = 987654.32
    files.form.write_text(json.dumps(form))
    result = bidder(*seal_args(files, files.directory / "bid.jcb"), files=files)
    assert result.returncode == 1
    assert "price_fen" in result.stderr


def test_seal_with_an_encrypted_key(files: Files) -> None:
    files.key.write_bytes(_key_pem(load_signing_key(files.key.read_bytes()), b"s3cret"))
    envelope = files.directory / "bid.jcb"
    refused = bidder(*seal_args(files, envelope), files=files)
    assert refused.returncode == 1
    assert "JINCHENG_BIDDER_KEY_PASSWORD" in refused.stderr
    wrong = bidder(*seal_args(files, envelope), files=files, env={"JINCHENG_BIDDER_KEY_PASSWORD": "nope"})
    assert wrong.returncode == 1
    sealed = bidder(*seal_args(files, envelope), files=files, env={"JINCHENG_BIDDER_KEY_PASSWORD": "s3cret"})
    assert sealed.returncode == 0, sealed.stderr
    assert envelope.is_file()
