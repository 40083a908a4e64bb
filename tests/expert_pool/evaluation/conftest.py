"""Evaluation fixtures: a committee drawn and accepted for a lot, trading's answers, and a driver
that walks an evaluation through its steps over the real API.

Trading is a small fake :class:`FakeTrading` here (the lot summary, the opening result, and the
reports it receives): these tests are about the expert pool, whose app and database are real. The
end-to-end test proves the real link to trading's endpoints.

The committee is written straight into the draw's tables (a sealed draw whose members accepted),
the state the draw's own API leaves a lot in once the members have confirmed, which keeps these
tests fast and independent of the draw's credit checks; the evaluation reads it only through
``services.expert_pool.draws.service.accepted_committee``. ``test_with_the_draw.py`` runs one
evaluation on a committee made by the draw's real API instead.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text, update
from sqlalchemy.orm import Session

from services.expert_pool.draws.models import Draw, DrawAssignment
from services.expert_pool.registry.models import Expert
from shared.contracts.experts import EvaluationReport
from shared.contracts.trading import LotSummary, OpenedBid, OpeningResult
from shared.envelope.codec import canonical_json
from shared.errors import DependencyUnavailable, Unprocessable
from tests.expert_pool.factories import add_specialty, create_experts, make_credit_code

LOT_PLATFORM = "gaoping"
AGENCY_ORG = "org-agency-gaoping"
GP_EVALUATION = {
    "method": "comprehensive_scoring",
    "criteria": [
        {"code": "price", "name": "价格", "kind": "price", "weight_pct": "30.00"},
        {"code": "tech", "name": "技术", "kind": "technical", "weight_pct": "50.00"},
        {"code": "comm", "name": "商务", "kind": "commercial", "weight_pct": "20.00"},
    ],
}
# The worked example of docs/evaluation.md: bid letters A–D, their policy flags and prices.
BIDS = {
    "A": (100_000_000, {"sme": True}),
    "B": (95_000_000, {}),
    "C": (102_000_000, {"sme": True, "innovation_product": True}),
    "D": (80_000_000, {}),
}
# Subjective points of the five members (technical, commercial) per bid, as in the docs.
WORKED_SCORES: dict[str, tuple[list[Any], list[Any]]] = {
    "A": ([40, 42, 41, 39, 20], [15, 16, 15, 14, 10]),
    "B": ([42, 43, 44, 41, 42], [16, 17, 16, 15, 16]),
    "C": ([38, "37.5", 39, 38, 38], [14, 14, 15, "13.5", 14]),
}


class FakeTrading:
    """Trading's answers for one lot; ``fail_reports`` makes the next report deliveries fail."""

    def __init__(self, lot_id: uuid.UUID, *, platform: str = LOT_PLATFORM, law: str = "government_procurement") -> None:
        self.lot_id = lot_id
        self.bid_ids = {letter: uuid.uuid4() for letter in BIDS}
        self.summary = LotSummary(
            id=lot_id,
            project_id=uuid.uuid4(),
            project_code="JC-2026-0042",
            platform=platform,
            category_code="GP-GOODS",
            law=law,
            tenderee_org="org-tenderee",
            agency_org=AGENCY_ORG,
            bid_deadline=datetime(2026, 11, 1, 2, 0, tzinfo=UTC),
            suspended=False,
        )
        now = datetime(2026, 11, 1, 2, 5, tzinfo=UTC)
        self.opening = OpeningResult(
            lot_id=lot_id,
            status="opened",
            opened_at=now,
            evaluation=dict(GP_EVALUATION),
            price_adjustments={"sme_discount_pct": "10.00", "innovation_discount_pct": "10.00"},
            ceiling_price_fen=120_000_000,
            bids=[
                OpenedBid(
                    bid_id=self.bid_ids[letter],
                    bidder_org=f"org-bidder-{letter}",
                    bidder_credit_code=make_credit_code(ord(letter)),
                    price_fen=price,
                    duration_days=90,
                    quality="合格",
                    project_manager_name=f"项目经理{letter}",
                    project_manager_certificate_no=f"CERT-{letter}",
                    extra=extra,
                    plaintext_sha256=hashlib.sha256(letter.encode()).hexdigest(),
                    decrypted_at=now,
                )
                for letter, (price, extra) in BIDS.items()
            ],
        )
        self.reports: list[EvaluationReport] = []
        self.fail_reports = 0
        self.calls: list[str] = []
        self.unavailable = False

    def lot_summary(self, lot_id: uuid.UUID) -> LotSummary:
        self.calls.append("lot_summary")
        if self.unavailable:
            raise DependencyUnavailable("依赖服务不可达: trading")
        assert lot_id == self.lot_id
        return self.summary

    def opening_result(self, lot_id: uuid.UUID) -> OpeningResult:
        self.calls.append("opening_result")
        assert lot_id == self.lot_id
        return self.opening

    def submit_evaluation_report(self, report: EvaluationReport) -> None:
        self.calls.append("submit_evaluation_report")
        if self.fail_reports > 0:
            self.fail_reports -= 1
            raise DependencyUnavailable("依赖服务不可达: trading")
        # As trading gets it: JSON over the wire, the digest checked over the canonical JSON.
        received = EvaluationReport.model_validate_json(report.model_dump_json())
        if hashlib.sha256(canonical_json(received.report)).hexdigest() != received.report_sha256:
            raise Unprocessable("评标报告的 SHA-256 与内容不一致", code="report_digest_mismatch")
        self.reports.append(received)


@dataclass
class Committee:
    lot_id: uuid.UUID
    draw_id: uuid.UUID
    specialty: str
    main_venue: uuid.UUID
    sub_venue: uuid.UUID
    expert_ids: list[uuid.UUID]
    subjects: list[str]
    assignment_ids: list[uuid.UUID]
    reserve_expert_id: uuid.UUID
    reserve_subject: str
    reserve_assignment_id: uuid.UUID
    venues_body: list[dict[str, Any]] = field(default_factory=list)


def _accepted_committee(session: Session, members: int, *, platform: str = LOT_PLATFORM) -> Committee:
    lot_id = uuid.uuid4()
    specialty = add_specialty(session)
    ids = create_experts(session, members + 1, specialties=[specialty])
    subjects = [f"expert-acct-{uuid.uuid4().hex[:10]}" for _ in ids]
    for expert_id, subject in zip(ids, subjects, strict=True):
        session.execute(update(Expert).where(Expert.id == expert_id).values(account_subject=subject))
    main, sub = uuid.uuid4(), uuid.uuid4()
    venues = [
        {"venue_id": str(main), "platform": platform, "role": "main", "seats": 10},
        {"venue_id": str(sub), "platform": "jincheng", "role": "sub", "seats": 10},
    ]
    seed = secrets.token_bytes(32)
    now = datetime.now(UTC)
    draw = Draw(
        id=uuid.uuid4(),
        kind="initial",
        lot_id=lot_id,
        project_code="JC-2026-0042",
        platform=platform,
        law="government_procurement",
        tenderee_credit_code=make_credit_code(),
        # Started an hour ago: the draw may be revealed once the report is signed.
        evaluation_starts_at=now - timedelta(hours=1),
        evaluation_ends_at=now + timedelta(hours=7),
        remote=True,
        request={
            "request": {"specialties": [{"specialty": specialty, "count": members, "reserves": 1}], "venues": venues}
        },
        request_digest=secrets.token_hex(32),
        members_required=members,
        reserves_required=1,
        idempotency_client="svc-trading",
        idempotency_key=str(uuid.uuid4()),
        idempotency_digest=secrets.token_hex(32),
        requested_by="trading-staff",
        status="sealed",
        seed=seed,
        commitment=hashlib.sha256(seed).hexdigest(),
        result=[{"specialty": specialty, "members": [str(i) for i in ids[:members]], "reserves": [str(ids[-1])]}],
        result_sha256=secrets.token_hex(32),
        selected_at=now - timedelta(days=1),
    )
    session.add(draw)
    session.flush()
    assignments = []
    for position, expert_id in enumerate(ids, start=1):
        reserve = position > members
        assignment = DrawAssignment(
            id=uuid.uuid4(),
            draw_id=draw.id,
            expert_id=expert_id,
            specialty=specialty,
            specialty_index=0,
            position=position,
            role="reserve" if reserve else "member",
            status="reserve" if reserve else "accepted",
            # Members alternate between the main venue and the sub-venue.
            venue_id=None if reserve else (main if position % 2 else sub),
        )
        session.add(assignment)
        assignments.append(assignment.id)
    session.flush()
    return Committee(
        lot_id=lot_id,
        draw_id=draw.id,
        specialty=specialty,
        main_venue=main,
        sub_venue=sub,
        expert_ids=ids[:members],
        subjects=subjects[:members],
        assignment_ids=assignments[:members],
        reserve_expert_id=ids[-1],
        reserve_subject=subjects[-1],
        reserve_assignment_id=assignments[-1],
        venues_body=venues,
    )


@pytest.fixture
def committee(session: Session) -> Committee:
    return _accepted_committee(session, 5)


@pytest.fixture
def make_committee(session: Session) -> Callable[..., Committee]:
    return lambda members=5, **kw: _accepted_committee(session, members, **kw)


@pytest.fixture
def trading(committee: Committee) -> FakeTrading:
    return FakeTrading(committee.lot_id)


@pytest.fixture
def app(make_client, trading: FakeTrading) -> TestClient:
    client = make_client("expert_pool")
    client.app.state.trading = trading
    return client


def attestation(result: str = "passed", *, at: datetime | None = None) -> dict[str, Any]:
    return {
        "device_id": "venue-dev-01",
        "method": "face",
        "result": result,
        "attested_at": (at or datetime.now(UTC)).isoformat(),
        "evidence_ref": "evidence://face/2026/11/29/0001.jpg",
        "evidence_sha256": hashlib.sha256(b"face capture").hexdigest(),
    }


def sheet_for(
    trading: FakeTrading, member_index: int, table: dict[str, tuple[list[Any], list[Any]]] | None = None
) -> dict[str, Any]:
    """The member's scores of the worked example, for the bids in ``table``."""
    table = WORKED_SCORES if table is None else table
    scores = []
    for letter, (tech, comm) in table.items():
        bid = str(trading.bid_ids[letter])
        scores.append({"bid_id": bid, "criterion": "tech", "points": str(Decimal(str(tech[member_index])))})
        scores.append({"bid_id": bid, "criterion": "comm", "points": str(Decimal(str(comm[member_index])))})
    return {"scores": scores}


class Flow:
    """Walks an evaluation through the API as the operator and the members would."""

    def __init__(
        self, client: TestClient, user: Callable[..., dict[str, str]], committee: Committee, trading: FakeTrading
    ):
        self.client = client
        self.user = user
        self.committee = committee
        self.trading = trading
        self.evaluation_id: str = ""

    def operator(self, platform: str = LOT_PLATFORM) -> dict[str, str]:
        return self.user("operator", platform=platform, sub=f"operator-{platform}", org=f"org-centre-{platform}")

    def member(self, i: int) -> dict[str, str]:
        return self.user("expert", platform="jincheng", sub=self.committee.subjects[i])

    def url(self, suffix: str = "") -> str:
        return f"/evaluations/{self.evaluation_id}{suffix}"

    def create(self) -> dict[str, Any]:
        response = self.client.post(
            "/evaluations",
            json={"lot_id": str(self.committee.lot_id), "venues": self.committee.venues_body},
            headers=self.operator(),
        )
        assert response.status_code == 201, response.text
        self.evaluation_id = response.json()["id"]
        return response.json()

    def venue_of(self, i: int) -> uuid.UUID:
        return self.committee.main_venue if (i + 1) % 2 else self.committee.sub_venue

    def check_in(self, i: int, result: str = "passed") -> Any:
        return self.client.post(
            self.url("/check-ins"),
            json={"venue_id": str(self.venue_of(i)), "attestation": attestation(result)},
            headers=self.member(i),
        )

    def check_in_all(self) -> None:
        for i in range(len(self.committee.subjects)):
            assert self.check_in(i).status_code == 201

    def elect(self, leader: int = 0) -> None:
        candidate = str(self.committee.expert_ids[leader])
        for i in range(len(self.committee.subjects) // 2 + 1):
            response = self.client.post(
                self.url("/leader-votes"), json={"candidate_expert_id": candidate}, headers=self.member(i)
            )
            assert response.status_code == 201, response.text

    def start(self) -> dict[str, Any]:
        response = self.client.post(self.url("/start"), headers=self.operator())
        assert response.status_code == 200, response.text
        return response.json()

    def started(self) -> None:
        self.create()
        self.check_in_all()
        self.elect()
        self.start()

    def submit(self, i: int, body: dict[str, Any] | None = None) -> Any:
        return self.client.post(self.url("/sheets"), json=body or sheet_for(self.trading, i), headers=self.member(i))

    def reject(self, letter: str, voters: range = range(3)) -> str:
        bid = str(self.trading.bid_ids[letter])
        first, *rest = list(voters)
        response = self.client.post(
            self.url("/rejections"),
            json={"bid_id": bid, "reason": "投标报价低于成本且未能合理说明", "basis": "条例 第五十一条（五）"},
            headers=self.member(first),
        )
        assert response.status_code == 201, response.text
        rejection_id: str = response.json()["id"]
        for i in rest:
            vote = self.client.post(
                self.url(f"/rejections/{rejection_id}/votes"), json={"agree": True}, headers=self.member(i)
            )
            assert vote.status_code == 200, vote.text
        return rejection_id

    def scored(self) -> None:
        """Started, D rejected, every member's worked-example sheet signed."""
        self.started()
        self.reject("D")
        for i in range(5):
            assert self.submit(i).status_code == 201


@pytest.fixture
def flow(app: TestClient, user, committee: Committee, trading: FakeTrading) -> Flow:
    return Flow(app, user, committee, trading)


def set_clock_back(session_or_conn: Any, table: str, column: str, where_id: str, minutes: int) -> None:
    """Move a recorded time into the past: the tests' way of letting the database clock run."""
    session_or_conn.execute(
        text(
            f"update expert_pool.{table} set {column} = clock_timestamp() - make_interval(mins => :m) "  # noqa: S608
            "where id = :id"
        ),
        {"m": minutes, "id": where_id},
    )
