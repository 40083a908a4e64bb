"""Opening: a published tender, bids sealed with the real bidder library (each bidder keeps its
content key, as ``bid.jcb.key.json`` would), submitted through the real API, and the helpers that
move the database-clock dates of the lot and of its opening into the past."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, text

from shared.envelope import BidForm, SignedFields, build_plaintext_zip, key_release_for, parse_header, seal, signer_for
from shared.storage import LocalBlobStore
from tests.trading.bids.conftest import (  # noqa: F401 - fixtures re-used from the bids tests
    Bidding,
    bid_ca,
    bidding,
    ca_file,
    gate_uploads,
    supervision,
    trading,
)
from tests.trading.notices.conftest import (  # noqa: F401 - fixtures re-used from the notices tests
    draft_notice,
    set_times,
    storage_dir,
    tender,
)

# Distinct prices per bidder, so the record's read-out can be checked bid by bid.
PRICES = {"a": 388_000_000, "b": 379_500_000, "c": 391_250_000, "d": 385_000_000, "e": 380_000_000}


def form_for(name: str) -> BidForm:
    return BidForm.model_validate(
        {
            "price_fen": PRICES.get(name, 390_000_000),
            "duration_days": 150 + len(name) * 10,
            "quality": "合格",
            "project_manager": {"name": f"项目经理{name}", "certificate_no": f"晋1140508000{name}"},
            "extra": {"warranty_months": 24},
        }
    )


@dataclass
class Sealed:
    envelope: bytes
    key: bytes
    signed: SignedFields
    plaintext: bytes

    def release(self) -> dict[str, str]:
        """What ``python -m tools.bidder release-key`` prints, as the JSON body to send."""
        parsed: dict[str, str] = json.loads(key_release_for(self.signed, self.key).to_json())
        return parsed


@dataclass
class Hall:
    """One lot of the tender, its bidders' sealed bids and keys, and the opening's API."""

    bidding: Bidding
    connection: Connection
    set_times: Callable[..., None]
    index: int = 0
    sealed: dict[str, Sealed] = field(default_factory=dict)
    # A bidder's own bid form instead of ``form_for(name)``.
    forms: dict[str, BidForm] = field(default_factory=dict)

    @property
    def client(self) -> TestClient:
        return self.bidding.client

    @property
    def lot(self) -> str:
        return self.bidding.lot(self.index)

    def url(self, path: str = "") -> str:
        return f"/lots/{self.lot}/opening{path}"

    @property
    def host(self) -> dict[str, str]:
        return self.bidding.tender.organiser

    def bidder(self, name: str) -> dict[str, str]:
        return self.bidding.headers(name)

    def seal(self, name: str) -> Sealed:
        who = self.bidding.bidder(name)
        workdir = self.bidding.workdir
        attachment = workdir / f"{uuid.uuid4().hex}.pdf"
        attachment.write_bytes(b"%PDF-1.7 technical proposal of " + name.encode())
        form = self.forms.get(name) or form_for(name)
        plaintext = build_plaintext_zip(form, [attachment], out=workdir / f"{uuid.uuid4().hex}.zip")
        out, key = seal(
            plaintext,
            out=workdir / f"{uuid.uuid4().hex}.jcb",
            lot_id=self.lot,
            bidder_credit_code=who.credit_code,
            certificate_pem=who.cert.pem,
            signer=signer_for(who.cert.key),
        )
        envelope = out.read_bytes()
        length = int.from_bytes(envelope[7:11], "big")
        signed = parse_header(envelope[11 : 11 + length]).signed
        return Sealed(envelope, key, signed, plaintext.read_bytes())

    def bid(self, *names: str, deposit: bool = True) -> None:
        """Seal, submit and (by default) declare a deposit for each bidder, before the deadline."""
        for name in names:
            sealed = self.seal(name)
            response = self.bidding.submit(name, sealed.envelope, lot=self.index)
            assert response.status_code == 201, response.text
            self.sealed[name] = sealed
            if deposit:
                declared = self.client.put(
                    f"/lots/{self.lot}/bids/mine/deposit",
                    json={"form": "guarantee_letter", "reference": f"BH-{name}"},
                    headers=self.bidder(name),
                )
                assert declared.status_code == 200, declared.text

    def pass_deadline(self) -> None:
        self.set_times(self.lot, bid_deadline=timedelta(seconds=-1))

    def bid_id(self, name: str) -> str:
        return str(self.client.get(f"/lots/{self.lot}/bids/mine", headers=self.bidder(name)).json()["id"])

    # --- the opening's steps, each asserted to succeed --------------------------------------------

    def state(self, headers: dict[str, str] | None = None) -> dict[str, Any]:
        response = self.client.get(self.url(), headers=headers or self.host)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def start(self) -> dict[str, Any]:
        response = self.client.post(self.url("/start"), headers=self.host)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def sign_in(self, *names: str) -> None:
        for name in names:
            response = self.client.post(self.url("/sign-in"), headers=self.bidder(name))
            assert response.status_code == 200, response.text

    def release(self, name: str, body: dict[str, str] | None = None) -> Any:
        return self.client.post(self.url("/key"), json=body or self.sealed[name].release(), headers=self.bidder(name))

    def decrypt(self, *names: str) -> None:
        for name in names:
            response = self.release(name)
            assert response.status_code == 200, response.text

    def close(self, **body: Any) -> dict[str, Any]:
        response = self.client.post(self.url("/close"), json=body, headers=self.host)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def publish(self) -> dict[str, Any]:
        response = self.client.post(self.url("/record"), headers=self.host)
        assert response.status_code == 201, response.text
        return dict(response.json())

    # --- the database clock, moved ----------------------------------------------------------------

    def end_window(self) -> None:
        """The decryption window ran out a second ago."""
        self._shift("started_at = t.now - interval '31 minutes', decryption_ends_at = t.now - interval '1 second'")

    def end_confirmation(self) -> None:
        """The time to confirm the record ran out a second ago."""
        self._shift("confirmation_ends_at = t.now - interval '1 second'")

    def _shift(self, assignments: str) -> None:
        self.connection.execute(
            text(
                f"update trading.openings set {assignments} "  # noqa: S608 - fixed assignments of this helper
                "from (select clock_timestamp() as now) t where lot_id = :lot"
            ),
            {"lot": self.lot},
        )

    def opened(self, *names: str) -> None:
        """Bid, pass the deadline, start, sign in and decrypt: an opening under way."""
        self.bid(*names)
        self.pass_deadline()
        self.start()
        self.sign_in(*names)
        self.decrypt(*names)


@pytest.fixture
def hall(bidding: Bidding, connection: Connection, set_times: Callable[..., None]) -> Hall:  # noqa: F811
    return Hall(bidding, connection, set_times)


@pytest.fixture
def other_lot(bidding: Bidding, connection: Connection, set_times: Callable[..., None]) -> Hall:  # noqa: F811
    """The tender's second lot, with its own opening."""
    return Hall(bidding, connection, set_times, index=1)


@pytest.fixture
def blob_path(storage_dir: Path) -> Callable[[str], Path]:  # noqa: F811
    """Where trading's local blob store keeps a blob."""
    return LocalBlobStore(storage_dir).path
