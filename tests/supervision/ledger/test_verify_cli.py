"""``tools/verify_audit.py`` (``make verify-audit``): OK or a located report, and its exit status."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared import ed25519_keys as keys
from tests.supervision.ledger.test_tamper import delete_tail, event_at
from tools import verify_audit


@pytest.fixture
def cli(ledger_db, capsys):
    """``cli(*args)`` -> (exit status, stdout, stderr), against the tamper-test database copy."""
    url = ledger_db.url.render_as_string(hide_password=False)

    def run(*args: str, database_url: str = url) -> tuple[int, str, str]:
        code = verify_audit.main(["--database-url", database_url, *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.fixture
def saved_file(ledger_template, tmp_path):
    def write(size: int) -> str:
        path = tmp_path / f"sth-{size}.json"
        path.write_text(json.dumps(ledger_template.saved[size]))
        return str(path)

    return write


def test_an_intact_ledger_passes(cli, saved_file):
    code, out, _ = cli("--tree-head", saved_file(65))
    assert code == 0, out
    assert out.startswith("OK: 125 leaves, 125 events, 119 stored nodes, 4 signed tree heads")
    assert "extends the saved tree head of size 65" in out


def test_a_tampered_ledger_fails_with_the_first_bad_leaf(cli, ledger_db, as_superuser):
    row_id, event_id = event_at(ledger_db, 12)
    as_superuser("update supervision.audit_events set client_ip = '6.6.6.6' where id = :id", {"id": row_id},
                 tables=("audit_events",))  # fmt: skip
    code, out, _ = cli()
    assert code == 1
    assert out.startswith("FAILED:")
    assert f"first: [content_changed] leaf 12, event {event_id}" in out


def test_a_truncated_ledger_fails_against_a_saved_tree_head(cli, saved_file, as_superuser):
    delete_tail(as_superuser, 110)
    assert cli()[0] == 0  # consistent in itself
    code, out, _ = cli("--tree-head", saved_file(125))
    assert code == 1
    assert "first: [saved_tree_head_beyond_ledger] leaf 110" in out


def test_the_trusted_key_may_be_given(cli, ledger_public_key, tmp_path):
    pem = tmp_path / "ledger.pem"
    pem.write_text(keys.public_key_pem(ledger_public_key))
    assert cli("--public-key", str(pem))[0] == 0
    assert cli("--public-key", base64.b64encode(keys.public_key_bytes(ledger_public_key)).decode())[0] == 0
    other = base64.b64encode(keys.public_key_bytes(Ed25519PrivateKey.generate().public_key())).decode()
    code, out, _ = cli("--public-key", other)
    assert code == 1
    assert "by kind: tree_head_signature_invalid 4" in out


def test_unusable_input_exits_2(cli, tmp_path, saved_file, database_server):
    not_json = tmp_path / "x.json"
    not_json.write_text("{")
    not_a_head = tmp_path / "y.json"
    not_a_head.write_text(json.dumps({"tree_size": 3}))
    for args, message in (
        (("--tree-head", str(tmp_path / "missing.json")), "cannot read"),
        (("--tree-head", str(not_json)), "is not a signed tree head"),
        (("--tree-head", str(not_a_head)), "lacks"),
        (("--public-key", "???"), "unusable public key"),
    ):
        code, _, err = cli(*args)
        assert (code, message in err) == (2, True), err
    code, _, err = cli(database_url=database_server.admin_url)  # a database without the ledger
    assert code == 2 and "make migrate" in err
