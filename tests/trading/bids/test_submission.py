"""Submitting a sealed bid: the receipt, what is stored and recorded, and every refusal of the envelope."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from services.trading.bids.receipts import verify_receipt
from shared.audit.outbox import change_digest
from shared.envelope.codec import canonical_json
from tests.shared.envelope.conftest import resign
from tests.support.pki import issue_leaf
from tests.trading.bids.conftest import MAX_BID_BYTES, credit_code_for


def test_happy_path_receipt_verifies_offline(bidding, receipt_key, connection, outbox, blob_files):
    envelope = bidding.seal("a")
    response = bidding.submit(
        "a", envelope, **{"X-Device-Fingerprint": "PC-HEADER-01", "X-Deposit-Payer-Account": "6222 0000 1111"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    receipt = body["receipt"]
    assert body["algorithm"] == "Ed25519"
    # Offline: nothing but the public key, the receipt as received and canonical JSON.
    assert verify_receipt(receipt_key, receipt, body["signature"])
    assert not verify_receipt(receipt_key, {**receipt, "version": 2}, body["signature"])
    who = bidding.bidder("a")
    assert receipt["format"] == "JCRECEIPT1" and receipt["kind"] == "bid_accepted"
    assert receipt["lot_id"] == bidding.lot() and receipt["version"] == 1
    assert (receipt["bidder_org"], receipt["bidder_credit_code"]) == (who.org, who.credit_code)
    assert receipt["envelope_sha256"] == hashlib.sha256(envelope).hexdigest()
    header = json.loads(envelope[11 : 11 + int.from_bytes(envelope[7:11], "big")])
    assert receipt["ciphertext_sha256"] == header["signed"]["ciphertext_sha256"]
    assert receipt["plaintext_sha256"] == header["signed"]["plaintext_sha256"]
    assert receipt["receipt_no"].startswith("JCR-")

    # The receipt time is the database's, at acceptance.
    row = (
        connection.execute(
            text(
                "select accepted_at, client_ip, user_agent, device_fingerprint, declared_device_fingerprint, "
                "declared_document_author, tool, deposit_payer_account, header from trading.bid_versions"
            )
        )
        .mappings()
        .one()
    )
    recorded = datetime.strptime(receipt["recorded_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert recorded == row["accepted_at"]
    db_now = connection.execute(text("select clock_timestamp()")).scalar_one()
    assert timedelta(0) <= db_now - recorded < timedelta(seconds=30)
    assert row["device_fingerprint"] == "PC-HEADER-01"
    assert row["declared_device_fingerprint"] == "sha256:aaaaaaaa" and row["declared_document_author"] == "作者a"
    assert row["tool"].startswith("jincheng-bidder/") and row["deposit_payer_account"] == "6222 0000 1111"
    assert row["client_ip"] and row["user_agent"]
    assert row["header"].encode() == envelope[11 : 11 + int.from_bytes(envelope[7:11], "big")]

    # The ciphertext is in the store under its digest, nothing left in the temporary directory.
    stored = blob_files()
    assert [p.name for p in stored["blobs"]] == [receipt["ciphertext_sha256"]]
    assert stored["blobs"][0].read_bytes() == envelope[11 + len(row["header"].encode()) :]
    assert stored["tmp"] == []

    # One audit event, with every collusion signal.
    event = outbox()[-1]
    assert event["action"] == "bid.submitted" and event["organisation"] == who.org
    signals = event["change"]["signals"]
    assert signals["device_fingerprint"] == "PC-HEADER-01"
    assert signals["declared_device_fingerprint"] == "sha256:aaaaaaaa"
    assert signals["declared_document_author"] == "作者a"
    assert signals["deposit_payer_account"] == "6222 0000 1111"
    assert signals["tool"].startswith("jincheng-bidder/") and signals["client_ip"] and signals["user_agent"]
    assert event["change"]["certificate"]["subject_serial"] == who.credit_code
    assert event["change"]["receipt_no"] == receipt["receipt_no"]
    assert event["change"]["envelope_sha256"] == receipt["envelope_sha256"]
    # Written by the submission's own statement, not by emit: the digest is still the ledger's.
    assert event["digest"] == change_digest(event["change"]) and event["request_id"]


def test_public_key_is_public_and_names_the_signing_key(trading, bidding, receipt_key):
    key = trading.get("/receipts/public-key").json()
    receipt = bidding.submit("a").json()["receipt"]
    assert receipt["key_id"] == key["key_id"] == hashlib.sha256(receipt_key).hexdigest()[:16]
    assert key["public_key_pem"].startswith("-----BEGIN PUBLIC KEY-----")
    assert "canonical_json" in key["receipt_format"]


def test_receipts_are_served_again_verbatim(bidding, receipt_key):
    first = bidding.submit("a").json()
    second = bidding.submit("a").json()
    listed = bidding.client.get(f"/lots/{bidding.lot()}/bids/mine/receipts", headers=bidding.headers("a"))
    assert listed.status_code == 200
    assert listed.json() == [first, second]
    for item in listed.json():
        assert verify_receipt(receipt_key, item["receipt"], item["signature"])
    assert canonical_json(first["receipt"])  # plain JSON values only


def test_envelope_rejections(bidding, untrusted_ca, expect_error, blob_files, connection):
    lot = bidding.lot()

    def refused(body: bytes, reason: str, name: str = "a", **headers: str) -> dict:
        response = bidding.submit(name, body, **headers)
        details = expect_error(response, 422, "envelope_rejected")
        assert details["reason"] == reason, details
        return details

    # Unencrypted uploads (电子招标投标办法 第二十六条).
    refused(b"PK\x03\x04" + b"\0" * 200, "not_an_envelope")
    refused(b"%PDF-1.7 plain bid", "not_an_envelope")
    refused(b"", "not_an_envelope")
    refused(b"JCBID1\n\x00\x00", "malformed_header")
    refused(b"JCBID1\n\xff\xff\xff\xff", "header_too_large")

    good = bidding.seal("a")
    # A flipped byte in the ciphertext, a truncated and an extended ciphertext.
    tampered = bytearray(good)
    tampered[-10] ^= 0x01
    refused(bytes(tampered), "digest_mismatch")
    refused(good[:-5], "length_mismatch")
    refused(good + b"extra", "length_mismatch")
    # A tampered header (the signature no longer matches).
    flipped = good.replace(b'sealed_at":"20', b'sealed_at":"19', 1)
    assert flipped != good
    refused(flipped, "bad_signature")

    # Sealed for the other lot of the tender.
    refused(bidding.seal("a", lot=1), "wrong_lot")
    # The envelope names another company than the uploader declares.
    other_code = credit_code_for(99)
    details = refused(good, "wrong_bidder", **{"X-Bidder-Credit-Code": other_code})
    assert details["certificate_reason"] is None
    # Signed with a certificate whose serialNumber is not the credit code in the envelope.
    path = bidding.workdir / "forged.jcb"
    path.write_bytes(good)
    impostor = issue_leaf(bidding.ca, common_name="冒名公司", subject_serial=credit_code_for(98))
    refused(resign(path, impostor).read_bytes(), "identity_mismatch")
    # A certificate from a CA the platform does not trust.
    stranger = issue_leaf(untrusted_ca, common_name="投标人a有限公司", subject_serial=bidding.bidder("a").credit_code)
    details = refused(bidding.seal("a", cert=stranger), "untrusted_certificate")
    assert details["certificate_reason"] == "untrusted_chain"
    # An expired certificate from the trusted CA.
    now = datetime.now(UTC)
    expired = issue_leaf(
        bidding.ca,
        common_name="投标人a有限公司",
        subject_serial=bidding.bidder("a").credit_code,
        not_before=now - timedelta(days=30),
        not_after=now - timedelta(days=1),
    )
    path.write_bytes(good)
    details = refused(resign(path, expired).read_bytes(), "untrusted_certificate")
    assert details["certificate_reason"] == "expired"

    # Nothing was accepted, nothing stored, nothing left half-written.
    assert connection.execute(text("select count(*) from trading.bid_versions")).scalar_one() == 0
    assert blob_files() == {"blobs": [], "tmp": []}
    # And the lot's good envelope still goes in afterwards.
    assert bidding.client.post(f"/lots/{lot}/bids", content=good, headers=bidding.headers("a")).status_code == 201


def test_oversize_is_413_and_leaves_nothing(bidding, expect_error, blob_files):
    big = bidding.seal("a", size=MAX_BID_BYTES)
    assert len(big) > MAX_BID_BYTES
    # Announced by Content-Length: refused before reading.
    details = expect_error(bidding.submit("a", big), 413, "payload_too_large")
    assert details == {"max_bytes": MAX_BID_BYTES}
    # Sent chunked, without a length: refused once the signed length shows it is too large.
    response = bidding.client.post(
        f"/lots/{bidding.lot()}/bids", content=iter([big[:1000], big[1000:]]), headers=bidding.headers("a")
    )
    expect_error(response, 413, "payload_too_large")
    assert blob_files() == {"blobs": [], "tmp": []}


def test_oversize_past_a_lying_header_is_cut_off(bidding, expect_error, blob_files):
    """A header that signs a small length followed by more bytes than the cap: cut off at once."""
    good = bidding.seal("a")
    response = bidding.client.post(
        f"/lots/{bidding.lot()}/bids",
        content=iter([good, b"\0" * (MAX_BID_BYTES + 1)]),
        headers=bidding.headers("a"),
    )
    details = expect_error(response, 422, "envelope_rejected")
    assert details["reason"] == "length_mismatch"
    assert blob_files() == {"blobs": [], "tmp": []}
