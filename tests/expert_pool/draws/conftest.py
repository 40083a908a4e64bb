"""Draw fixtures: the expert pool with supervision's real app answering its credit checks
in-process (same transaction), experts stored as ORM rows, and helpers to request, reveal and read.

Experts are written directly (dummy ciphertext, unique keyed hash) so that these tests depend on
the registry's tables only, not on its API."""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from services.expert_pool.registry.models import (
    Expert,
    ExpertConflict,
    ExpertEmployment,
    ExpertUnavailability,
    Specialty,
)
from shared.clients.supervision import SupervisionClient
from shared.credit_code import make_credit_code
from shared.platforms import platform_for_region
from tests.support.inprocess import InProcessTransport
from tests.support.tokens import TestIssuer

REGIONS = {"jincheng": "140502", "gaoping": "140581", "yangcheng": "140522", "lingchuan": "140524", "qinshui": "140521"}
_numbers = itertools.count(random.randrange(10**6))


def credit_code(n: int | None = None) -> str:
    return make_credit_code(f"91140500MA{(next(_numbers) if n is None else n) % 10**7:07d}")


TENDEREE = credit_code(1)
AGENCY = credit_code(2)
BIDDERS = [credit_code(10 + i) for i in range(3)]


@pytest.fixture
def supervision(make_client) -> TestClient:
    return make_client("supervision", ledger_signer_enabled=False)


def supervision_client_for(supervision: TestClient, issuer: TestIssuer) -> SupervisionClient:
    token = issuer.token(sub="svc-expert_pool", typ="service", aud="supervision", scope="credit:read")
    return SupervisionClient(
        "http://supervision", transport=InProcessTransport(supervision), token_provider=lambda: token, retries=0
    )


@pytest.fixture
def expert_pool(make_client, supervision: TestClient, issuer: TestIssuer) -> TestClient:
    """The expert pool, its credit checks answered by supervision's real app."""
    client = make_client("expert_pool")
    client.app.state.supervision = supervision_client_for(supervision, issuer)
    return client


@dataclass
class Pool:
    """Specialties and experts written straight into the test transaction."""

    session: Session
    made: list[uuid.UUID] = field(default_factory=list)

    def specialty(self, *, active: bool = True) -> str:
        code = "D" + "".join(random.choices("0123456789", k=9))
        self.session.add(Specialty(code=code, name=f"专业{code}", parent_code=None, active=active))
        self.session.flush()
        return code

    def expert(
        self,
        specialties: Sequence[str],
        *,
        region: str = "140502",
        status: str = "active",
        title_level: str = "senior",
        years: int = 15,
        employer: str | None = None,
        subject: str | None = None,
        name: str | None = None,
    ) -> uuid.UUID:
        n = next(_numbers)
        expert = Expert(
            id=uuid.uuid4(),
            platform=platform_for_region(region) if region.startswith("1405") else "jincheng",
            region_code=region,
            name=name or f"专家{n}",
            id_number_ciphertext=b"\x00dummy-ciphertext",
            id_number_hmac=f"{uuid.uuid4().hex}{uuid.uuid4().hex}",
            id_number_masked="140502********1234",
            account_subject=subject,
            phone=f"139{n % 10**8:08d}",
            title="高级工程师",
            title_level=title_level,
            years_experience=years,
            specialties=list(specialties),
            employer_credit_code=employer or credit_code(),
            employer_name="某设计院有限公司",
            status=status,
            status_reason=None if status == "active" else "测试",
        )
        self.session.add(expert)
        self.session.flush()
        self.made.append(expert.id)
        return expert.id

    def experts(self, count: int, specialties: Sequence[str], **kwargs: Any) -> list[uuid.UUID]:
        return [self.expert(specialties, **kwargs) for _ in range(count)]

    def employment(self, expert_id: uuid.UUID, employer: str, started: date, ended: date | None) -> None:
        self.session.add(
            ExpertEmployment(
                expert_id=expert_id,
                employer_credit_code=employer,
                employer_name="前单位",
                started_on=started,
                ended_on=ended,
            )
        )
        self.session.flush()

    def conflict(self, expert_id: uuid.UUID, organisation: str) -> None:
        self.session.add(
            ExpertConflict(
                expert_id=expert_id, kind="relative", organisation_credit_code=organisation, description="亲属"
            )
        )
        self.session.flush()

    def unavailable(self, expert_id: uuid.UUID, starts: datetime, ends: datetime) -> None:
        self.session.add(ExpertUnavailability(expert_id=expert_id, starts_at=starts, ends_at=ends, reason="出差"))
        self.session.flush()


@pytest.fixture
def pool(session: Session) -> Pool:
    return Pool(session)


def evaluation_time(days: int = 5) -> tuple[datetime, datetime]:
    start = (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)
    return start, start + timedelta(hours=8)


def draw_body(lines: Sequence[tuple[str, int, int]], **overrides: Any) -> dict[str, Any]:
    """A valid DrawRequest for an engineering lot on the city platform; ``lines`` are
    (specialty, members, reserves)."""
    start, end = evaluation_time()
    body: dict[str, Any] = {
        "lot_id": str(uuid.uuid4()),
        "project_code": "JC2026-0001",
        "platform": "jincheng",
        "region_code": "140502",
        "law": "bidding_law",
        "budget_fen": 500_000_000,
        "evaluation_starts_at": start.isoformat(),
        "evaluation_ends_at": end.isoformat(),
        "specialties": [{"specialty": s, "count": c, "reserves": r} for s, c, r in lines],
        "tenderee_credit_code": TENDEREE,
        "agency_credit_code": AGENCY,
        "bidder_credit_codes": list(BIDDERS),
        "remote": False,
        "venues": [],
        "experts_outside_region": False,
        "requested_by": "agency-staff-1",
    }
    body.update(overrides)
    return body


@pytest.fixture
def trading(service) -> dict[str, str]:
    """Headers of trading's service token (scope experts:draw, city platform)."""
    return dict(service("experts:draw", sub="svc-trading"))


@pytest.fixture
def post_draw(expert_pool, trading) -> Callable[..., Any]:
    """``post_draw(body, key=None, headers=None)``: POST /draws with an Idempotency-Key."""

    def call(body: dict[str, Any], key: str | None = None, headers: dict[str, str] | None = None) -> Any:
        return expert_pool.post(
            "/draws", json=body, headers={**(headers or trading), "Idempotency-Key": key or str(uuid.uuid4())}
        )

    return call


@pytest.fixture
def drawn(post_draw) -> Callable[..., dict[str, Any]]:
    """``drawn(body)``: a successful draw's summary."""

    def call(body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        response = post_draw(body, **kwargs)
        assert response.status_code == 201, response.text
        return dict(response.json())

    return call


def start_evaluation(connection: Connection, draw_id: str) -> None:
    """Move a draw's evaluation start into the past (the result may then be decided)."""
    connection.execute(
        text(
            "update expert_pool.draws set evaluation_starts_at = clock_timestamp() - interval '1 hour' "
            "where id = :id or parent_id = :id"
        ),
        {"id": draw_id},
    )


@pytest.fixture
def reveal(expert_pool, user, connection) -> Callable[..., dict[str, Any]]:
    """``reveal(draw_id)``: start the evaluation and reveal as the city operator; the record."""

    def call(draw_id: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        start_evaluation(connection, draw_id)
        response = expert_pool.post(
            f"/draws/{draw_id}/reveal", json={"reason": "评标报告已提交"}, headers=headers or user("operator")
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    return call


def assignments(connection: Connection, draw_id: str) -> list[dict[str, Any]]:
    rows = connection.execute(
        text(
            "select id, expert_id, specialty, specialty_index, position, role, status, venue_id, replaces_id, "
            "notified_at from expert_pool.draw_assignments where draw_id = :d order by specialty_index, position"
        ),
        {"d": draw_id},
    )
    return [dict(r) for r in rows.mappings()]


def notifications(connection: Connection) -> list[dict[str, Any]]:
    rows = connection.execute(
        text(
            "select id, expert_id, assignment_id, kind, message, sent_at from expert_pool.expert_notifications "
            "order by id"
        )
    )
    return [dict(r) for r in rows.mappings()]


def draw_row(connection: Connection, draw_id: str) -> dict[str, Any]:
    return dict(
        connection.execute(text("select * from expert_pool.draws where id = :d"), {"d": draw_id}).mappings().one()
    )


def ban(supervision: TestClient, issuer: TestIssuer, expert_id: uuid.UUID) -> None:
    """A bad-behaviour record banning the expert without end (取消资格), through supervision's API."""
    decided = (datetime.now(UTC) - timedelta(days=3)).date().isoformat()
    body = {
        "subject_kind": "expert",
        "subject_id": str(expert_id),
        "subject_name": "某专家",
        "law": "bidding",
        "act": "评标中收受投标人财物",
        "legal_basis": "招标投标法 第五十六条",
        "decision": "取消担任评标委员会成员的资格",
        "decision_number": "晋市监〔2026〕1号",
        "department": "晋城市发展和改革委员会",
        "decided_on": decided,
        "ban_start": decided,
    }
    headers = issuer.headers(sub="sup-1", roles=["supervisor"], platform="jincheng", aud="supervision", typ="user")
    response = supervision.post("/credit/records", json=body, headers=headers)
    assert response.status_code == 201, response.text
