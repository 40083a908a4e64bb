"""Bids take the lot ``FOR SHARE`` (lots.lock_for_bids), deadline changes and the opening ``FOR
UPDATE`` (lots.lock): bids are recorded in parallel, yet every deadline decision still serialises with
every bid in flight. Each test holds real transactions open on a database of its own (the race test's)
and checks who waits for whom, with the service functions the submission endpoint runs.

- a writer waits for a bid that holds the share lock, and a bid waits for a writer;
- a bid that waited reads the writer's deadline, and the clock it is accepted at is read after the
  wait (a bid cannot carry a time from before the lock into a lot that closed meanwhile);
- two first submissions of one organisation at once make one bid with versions 1 and 2, and a
  credit code another account is using still answers 409 ``credit_code_in_use``.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from services.trading.bids import service
from services.trading.bids.receipts import ReceiptSigner
from services.trading.bids.upload import ReceivedEnvelope
from services.trading.lots import service as lots
from services.trading.settings import DEV_RECEIPT_SIGNING_KEY
from shared.auth import Principal
from shared.certificates import TrustStore
from shared.envelope import EnvelopeFeed, build_plaintext_zip, seal, signer_for
from shared.errors import ApiError
from shared.storage import LocalBlobStore
from tests.support.pki import IssuedCert, issue_leaf
from tests.trading.bids.conftest import FORM, credit_code_for
from tests.trading.bids.test_deadline_race import (  # noqa: F401 - fixtures re-used from the race test
    Platform,
    _published_lot,
    platform,
    race_db,
)

T = TypeVar("T")
# Long enough for a blocked statement to be seen waiting, short enough for the suite.
SETTLE = 0.5


class Background:
    """``call`` in a thread, its outcome (result or exception) collected."""

    def __init__(self, call: Callable[[], T]) -> None:
        self.result: Any = None
        self.error: BaseException | None = None

        def run() -> None:
            try:
                self.result = call()
            except BaseException as exc:  # noqa: BLE001 - handed to the test
                self.error = exc

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def waiting(self) -> bool:
        self.thread.join(SETTLE)
        return self.thread.is_alive()

    def outcome(self) -> Any:
        self.thread.join(30)
        assert not self.thread.is_alive(), "still blocked"
        if self.error is not None:
            raise self.error
        return self.result


class Lot:
    """A published lot of the race database and what it takes to record bids on it directly."""

    def __init__(self, platform: Platform, workdir: Path) -> None:  # noqa: F811
        self.id = uuid.UUID(_published_lot(platform))
        self.sessions = sessionmaker(bind=platform.engine, expire_on_commit=False)
        self.workdir = workdir
        ca: IssuedCert = platform.ca  # type: ignore[attr-defined]
        self.ca = ca
        (workdir / "ca.pem").write_bytes(ca.pem)
        self.trust = TrustStore.from_pem_files([workdir / "ca.pem"])
        self.store = LocalBlobStore(workdir / "blobs")
        self.signer = ReceiptSigner(DEV_RECEIPT_SIGNING_KEY)
        self.certs: dict[str, IssuedCert] = {}

    def bidder(self, org: str, code: str) -> tuple[Principal, service.Declared]:
        principal = Principal(subject=f"bidder-{org[:8]}", typ="user", platform="jincheng", org=org)
        return principal, service.Declared(credit_code=code, idempotency_key=None, deposit_payer_account=None)

    def envelope(self, code: str) -> ReceivedEnvelope:
        if code not in self.certs:
            self.certs[code] = issue_leaf(self.ca, common_name=f"投标人{code}", subject_serial=code)
        cert = self.certs[code]
        attachment = self.workdir / f"{uuid.uuid4().hex}.pdf"
        attachment.write_bytes(b"%PDF-1.7\n" + uuid.uuid4().bytes * 64)
        plaintext = build_plaintext_zip(FORM, [attachment], out=self.workdir / f"{uuid.uuid4().hex}.zip")
        sealed, _ = seal(
            plaintext,
            out=self.workdir / f"{uuid.uuid4().hex}.jcb",
            lot_id=str(self.id),
            bidder_credit_code=code,
            certificate_pem=cert.pem,
            signer=signer_for(cert.key),
        )
        feed = EnvelopeFeed(
            trust=self.trust, at=datetime.now(UTC), expected_lot_id=str(self.id), expected_bidder_credit_code=code
        )
        writer = self.store.writer(max_bytes=1 << 20)
        writer.write(feed.feed(sealed.read_bytes()))
        writer.discard()  # recording does not store the ciphertext; the endpoint does it before
        return ReceivedEnvelope.read(feed, writer)

    def started(self, session: Session, principal: Principal, declared: service.Declared) -> service.Started:
        started = service.start(session, principal, self.id, declared, claim_ttl=timedelta(hours=1))
        assert isinstance(started, service.Started)
        return started

    def record(self, session: Session, org: str, code: str) -> Any:
        """Phase 1 and phase 3 of one submission, the second left uncommitted for the test to end."""
        principal, declared = self.bidder(org, code)
        with self.sessions() as first:
            started = self.started(first, principal, declared)
        return service.record(session, principal, started, self.envelope(code), declared, self.signer)

    def versions(self) -> list[tuple[str, int, int]]:
        with self.sessions() as session:
            rows = session.execute(
                text(
                    "select b.bidder_org, b.latest_version, v.version from trading.bids b "
                    "join trading.bid_versions v on v.bid_id = b.id where b.lot_id = :lot order by v.version"
                ),
                {"lot": self.id},
            ).all()
        return [(row[0], row[1], row[2]) for row in rows]


@pytest.fixture
def lot(platform: Platform, tmp_path: Path) -> Iterator[Lot]:  # noqa: F811
    yield Lot(platform, tmp_path)


def _db_now(session: Session) -> datetime:
    value: datetime = session.execute(text("select clock_timestamp()")).scalar_one()
    return value


def test_a_writer_waits_for_a_bid_holding_the_share_lock(lot: Lot):
    org = str(uuid.uuid4())
    with lot.sessions() as bid:
        lot.record(bid, org, credit_code_for(2001))  # holds the lot FOR SHARE, not committed
        with lot.sessions() as writer:
            locking = Background(lambda: lots.lock(writer, lot.id))
            assert locking.waiting(), "a deadline change must wait for the bid in flight"
            bid.commit()
            locking.outcome()
            writer.rollback()


def test_bids_do_not_wait_for_each_other(lot: Lot):
    with lot.sessions() as first, lot.sessions() as second:
        lot.record(first, str(uuid.uuid4()), credit_code_for(2002))
        # A second bidder is recorded while the first still holds the share lock.
        recording = Background(lambda: lot.record(second, str(uuid.uuid4()), credit_code_for(2003)))
        assert not recording.waiting()
        recording.outcome()
        second.commit()
        first.commit()
    assert len(lot.versions()) == 2


def test_a_bid_waiting_for_a_writer_reads_the_deadline_it_set(lot: Lot):
    org = str(uuid.uuid4())
    with lot.sessions() as writer, lot.sessions() as bid:
        locked = lots.lock(writer, lot.id)
        recording = Background(lambda: lot.record(bid, org, credit_code_for(2004)))
        assert recording.waiting(), "a bid must wait for a deadline change in flight"
        # The writer closes the lot at once, as the opening's clock would.
        locked.documents_until = _db_now(writer) - timedelta(seconds=1)
        locked.bid_deadline = _db_now(writer)
        writer.commit()
        with pytest.raises(ApiError) as refused:
            recording.outcome()
        assert refused.value.code == "bid_deadline_passed"
        bid.rollback()
    assert lot.versions() == []


def test_the_clock_of_a_bid_is_read_after_its_wait_for_the_lock(lot: Lot):
    org = str(uuid.uuid4())
    with lot.sessions() as writer, lot.sessions() as bid:
        lots.lock(writer, lot.id)
        recording = Background(lambda: lot.record(bid, org, credit_code_for(2005)))
        assert recording.waiting()
        time.sleep(SETTLE)
        released_at = _db_now(writer)
        writer.commit()  # changed nothing: no re-read of the row would refresh an early clock
        receipt = recording.outcome()
        bid.commit()
    recorded = str(service.receipt_json(receipt)["recorded_at"])
    assert datetime.strptime(recorded, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC) >= released_at


def test_two_first_submissions_of_one_organisation_at_once(lot: Lot):
    org, code = str(uuid.uuid4()), credit_code_for(2006)
    with lot.sessions() as first, lot.sessions() as second:
        lot.record(first, org, code)  # inserted the bid, not committed
        # The second finds no bid in its snapshot and inserts too: it must wait for the first...
        recording = Background(lambda: lot.record(second, org, code))
        assert recording.waiting()
        first.commit()
        # ...and then become the next version of the same bid.
        receipt = recording.outcome()
        second.commit()
    assert receipt.version == 2
    assert lot.versions() == [(org, 2, 1), (org, 2, 2)]


def test_a_first_submission_after_a_rolled_back_one_is_version_1(lot: Lot):
    org, code = str(uuid.uuid4()), credit_code_for(2007)
    with lot.sessions() as first, lot.sessions() as second:
        lot.record(first, org, code)
        recording = Background(lambda: lot.record(second, org, code))
        assert recording.waiting()
        first.rollback()
        assert recording.outcome().version == 1
        second.commit()
    assert lot.versions() == [(org, 1, 1)]


def test_a_credit_code_in_use_by_another_account_at_the_same_time_is_409(lot: Lot):
    code = credit_code_for(2008)
    with lot.sessions() as first, lot.sessions() as second:
        lot.record(first, str(uuid.uuid4()), code)
        recording = Background(lambda: lot.record(second, str(uuid.uuid4()), code))
        assert recording.waiting()
        first.commit()
        with pytest.raises(ApiError) as refused:
            recording.outcome()
        assert refused.value.code == "credit_code_in_use"
        second.rollback()
    assert len(lot.versions()) == 1
