"""Bids: a published tender, bidders with certificates from a trusted test CA, envelopes sealed with
the real bidder library, and supervision's real app answering trading's credit checks in-process."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from shared.clients.supervision import SupervisionClient
from shared.credit_code import make_credit_code
from shared.envelope import BidForm, build_plaintext_zip, seal, signer_for
from shared.storage import BlobStore, BlobWriter, LocalBlobStore, StoredBlob, writer_for
from tests.support.inprocess import InProcessTransport
from tests.support.pki import IssuedCert, issue_leaf, make_ca
from tests.trading.notices.conftest import (  # noqa: F401 - fixtures re-used from the notices tests
    Tender,
    draft_notice,
    set_times,
    storage_dir,
    tender,
)

MAX_BID_BYTES = 256 * 1024
FORM = BidForm.model_validate(
    {
        "price_fen": 388_000_000,
        "duration_days": 180,
        "quality": "合格",
        "project_manager": {"name": "李四", "certificate_no": "晋114050800001"},
    }
)


def credit_code_for(n: int) -> str:
    return make_credit_code(f"91140500MA{n:07d}")


@pytest.fixture(scope="session")
def bid_ca() -> IssuedCert:
    return make_ca("Shanxi Bid Test CA")


@pytest.fixture(scope="session")
def untrusted_ca() -> IssuedCert:
    return make_ca("Somebody Else's CA")


@pytest.fixture
def ca_file(tmp_path: Path, bid_ca: IssuedCert) -> Path:
    path = tmp_path / "bid-ca.pem"
    path.write_bytes(bid_ca.pem)
    return path


@pytest.fixture
def supervision(make_client) -> TestClient:
    return make_client("supervision", ledger_signer_enabled=False)


@pytest.fixture
def trading(make_client, storage_dir: Path, ca_file: Path, supervision: TestClient, issuer) -> TestClient:  # noqa: F811
    """Trading with its store in this test's directory, the test CA trusted, a small bid cap, and
    its credit checks answered by supervision's real app on the same transaction."""
    client = make_client(
        "trading",
        storage_dir=storage_dir,
        max_document_bytes=256 * 1024,
        max_bid_bytes=MAX_BID_BYTES,
        trusted_ca_files=str(ca_file),
    )
    token = issuer.token(sub="svc-trading", typ="service", aud="supervision", scope="credit:read")
    client.app.state.supervision = SupervisionClient(
        "http://supervision", transport=InProcessTransport(supervision), token_provider=lambda: token, retries=0
    )
    return client


@dataclass
class Bidder:
    name: str
    org: str
    credit_code: str
    cert: IssuedCert
    platform: str = "jincheng"


@dataclass
class Bidding:
    """Seal and submit bids for a tender's lots as named bidders."""

    tender: Tender
    ca: IssuedCert
    workdir: Path
    bidders: dict[str, Bidder] = field(default_factory=dict)

    @property
    def client(self) -> TestClient:
        return self.tender.client

    def lot(self, index: int = 0) -> str:
        return str(self.tender.lots[index]["id"])

    def bidder(self, name: str = "a", platform: str = "jincheng") -> Bidder:
        if name not in self.bidders:
            code = credit_code_for(len(self.bidders) + 1)
            cert = issue_leaf(self.ca, common_name=f"投标人{name}有限公司", subject_serial=code)
            self.bidders[name] = Bidder(name, str(uuid.uuid4()), code, cert, platform)
        return self.bidders[name]

    def headers(self, name: str = "a", **extra: str) -> dict[str, str]:
        who = self.bidder(name)
        return {
            **self.tender.headers("bidder", org=who.org, platform=who.platform, sub=f"bidder-{name}"),
            "X-Bidder-Credit-Code": who.credit_code,
            **extra,
        }

    def seal(
        self,
        name: str = "a",
        *,
        lot: int | str = 0,
        size: int = 2048,
        cert: IssuedCert | None = None,
        credit_code: str | None = None,
        **options: Any,
    ) -> bytes:
        """A real envelope from the bidder library, with ``size`` random attachment bytes."""
        who = self.bidder(name)
        attachment = self.workdir / f"{uuid.uuid4().hex}.pdf"
        attachment.write_bytes(b"%PDF-1.7\n" + os.urandom(size))
        plaintext = build_plaintext_zip(FORM, [attachment], out=self.workdir / f"{uuid.uuid4().hex}.zip")
        signer = cert or who.cert
        out, _ = seal(
            plaintext,
            out=self.workdir / f"{uuid.uuid4().hex}.jcb",
            lot_id=lot if isinstance(lot, str) else self.lot(lot),
            bidder_credit_code=credit_code or who.credit_code,
            certificate_pem=signer.pem,
            signer=signer_for(signer.key),
            device_fingerprint=options.pop("device_fingerprint", f"sha256:{name * 8}"),
            document_author=options.pop("document_author", f"作者{name}"),
            **options,
        )
        return out.read_bytes()

    def submit(self, name: str = "a", body: bytes | None = None, *, lot: int = 0, **headers: str) -> Any:
        data = body if body is not None else self.seal(name, lot=lot)
        headers = {"Content-Type": "application/octet-stream", **headers}
        return self.client.post(f"/lots/{self.lot(lot)}/bids", content=data, headers=self.headers(name, **headers))


@pytest.fixture
def bidding(tender: Tender, bid_ca: IssuedCert, tmp_path: Path) -> Bidding:  # noqa: F811
    workdir = tmp_path / "bids"
    workdir.mkdir()
    return Bidding(tender, bid_ca, workdir)


@pytest.fixture
def receipt_key(trading: TestClient) -> bytes:
    response = trading.get("/receipts/public-key")
    assert response.status_code == 200, response.text
    return base64.b64decode(response.json()["public_key"])


@pytest.fixture
def blob_files(storage_dir: Path, tender: Tender) -> Callable[[], dict[str, list[Path]]]:  # noqa: F811
    """What the store holds besides the tender document: finished blobs and leftovers in its
    temporary directory."""

    def files() -> dict[str, list[Path]]:
        if not storage_dir.exists():
            return {"blobs": [], "tmp": []}
        tmp = storage_dir / "tmp"
        document = tender.document["sha256"]
        return {
            "blobs": sorted(
                p for p in storage_dir.rglob("*") if p.is_file() and tmp not in p.parents and p.name != document
            ),
            "tmp": sorted(p for p in tmp.rglob("*") if p.is_file()) if tmp.exists() else [],
        }

    return files


class GatedStore:
    """The app's real store, with a hook that runs once an upload's bytes are all in and verified
    but before the store finishes: a slow client, seen from the server."""

    def __init__(self, inner: BlobStore, hook: Callable[[], None]) -> None:
        self.inner = inner
        self.hook = hook

    def put(self, chunks: Iterable[bytes], *, max_bytes: int) -> StoredBlob:
        def gated() -> Iterator[bytes]:
            yield from chunks
            self.hook()

        return self.inner.put(gated(), max_bytes=max_bytes)

    def writer(self, *, max_bytes: int) -> BlobWriter:
        """Bids push their ciphertext into a writer: the hook runs once its checks have passed."""
        return GatedWriter(writer_for(self.inner, max_bytes=max_bytes), self.hook)

    def open(self, sha256: str) -> Iterator[bytes]:
        return self.inner.open(sha256)

    def exists(self, sha256: str) -> bool:
        return self.inner.exists(sha256)


class GatedWriter:
    def __init__(self, inner: BlobWriter, hook: Callable[[], None]) -> None:
        self.inner = inner
        self.hook = hook

    @property
    def size(self) -> int:
        return self.inner.size

    def write(self, chunk: bytes | memoryview) -> None:
        self.inner.write(chunk)

    def finish(self, check: Callable[[StoredBlob], None] | None = None) -> StoredBlob:
        def gated(blob: StoredBlob) -> None:
            if check is not None:
                check(blob)
            self.hook()

        return self.inner.finish(gated)

    def discard(self) -> None:
        self.inner.discard()


@pytest.fixture
def gate_uploads(trading, storage_dir: Path) -> Callable[[Callable[[], None]], None]:  # noqa: F811
    def install(hook: Callable[[], None]) -> None:
        trading.app.state.blob_store = GatedStore(LocalBlobStore(storage_dir), hook)

    return install


@pytest.fixture
def lot_deadline(connection) -> Callable[[str], datetime]:
    def read(lot_id: str) -> datetime:
        value = connection.execute(text("select bid_deadline from trading.lots where id = :id"), {"id": lot_id})
        return value.scalar_one()

    return read
