"""Draws at the same moment, over real HTTP and real transactions (a database of this module's own,
the expert pool and supervision served by uvicorn): overlapping committees never share an expert,
and concurrent retries of one request make one draw."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, create_engine, text

from services.expert_pool.app import create_app as expert_pool_app
from services.expert_pool.settings import ExpertPoolSettings
from services.supervision.app import create_app as supervision_app
from services.supervision.settings import SupervisionSettings
from shared.auth.deps import Authenticator
from shared.auth.keys import StaticKeySource
from shared.auth.revocations import StaticRevocations
from shared.clients.supervision import SupervisionClient
from shared.settings import normalise_database_url
from tests.expert_pool.draws.conftest import draw_body
from tests.support.served import Served, migrated_database


@pytest.fixture(scope="module")
def race_db(database_server) -> Iterator[str]:
    with migrated_database(database_server, "draws", ("expert_pool", "supervision")) as url:
        yield url


@dataclass
class Platform:
    url: str
    engine: Engine
    headers: dict[str, str]


@pytest.fixture
def platform(race_db, issuer) -> Iterator[Platform]:
    def authenticator(audience: str) -> Authenticator:
        return Authenticator(audience=audience, keys=StaticKeySource([issuer.jwk]), revocations=StaticRevocations())

    supervision = supervision_app(
        SupervisionSettings(environment="test", database_url=race_db, relay_enabled=False, ledger_signer_enabled=False),
        authenticator=authenticator("supervision"),
    )
    pool = expert_pool_app(
        ExpertPoolSettings(environment="test", database_url=race_db, relay_enabled=False),
        authenticator=authenticator("expert_pool"),
    )
    engine = create_engine(normalise_database_url(race_db))
    token = issuer.token(sub="svc-expert_pool", typ="service", aud="supervision", scope="credit:read", lifetime=600)
    headers = issuer.headers(sub="svc-trading", typ="service", aud="expert_pool", scope="experts:draw", lifetime=600)
    with Served(supervision) as sup, Served(pool) as served:
        client = SupervisionClient(sup.url, token_provider=lambda: token, retries=0)
        pool.state.supervision = client
        try:
            yield Platform(served.url, engine, headers)
        finally:
            client.close()
    for app in (pool, supervision):
        app.state.engine.dispose()
    engine.dispose()


def _pool_of(engine: Engine, count: int) -> str:
    code = "R" + "".join(random.choices("0123456789", k=9))
    with engine.begin() as conn:
        conn.execute(text("insert into expert_pool.specialties (code, name) values (:c, '并发测试专业')"), {"c": code})
        for n in range(count):
            conn.execute(
                text(
                    "insert into expert_pool.experts (id, platform, region_code, name, id_number_ciphertext, "
                    "id_number_hmac, id_number_masked, phone, title, title_level, years_experience, specialties, "
                    "employer_credit_code, employer_name) values (:id, 'jincheng', '140502', :name, '\\x00', :hmac, "
                    "'140502********0000', '13900000000', '高级工程师', 'senior', 20, array[cast(:code as varchar)], "
                    "'91140500MA0000009X', '某单位')"
                ),
                {"id": uuid.uuid4(), "name": f"并发专家{n}", "hmac": uuid.uuid4().hex * 2, "code": code},
            )
    return code


def _post(platform: Platform, body: dict[str, Any], key: str) -> httpx.Response:
    with httpx.Client(base_url=platform.url, timeout=60) as http:
        return http.post("/draws", json=body, headers={**platform.headers, "Idempotency-Key": key})


def test_overlapping_draws_at_once_never_share_an_expert(platform: Platform):
    code = _pool_of(platform.engine, 12)
    bodies = [draw_body([(code, 5, 0)]) for _ in range(6)]
    for body in bodies:  # one sitting for all: every draw overlaps every other
        body["evaluation_starts_at"], body["evaluation_ends_at"] = (
            bodies[0]["evaluation_starts_at"],
            bodies[0]["evaluation_ends_at"],
        )
    with ThreadPoolExecutor(len(bodies)) as pool:
        answers = list(pool.map(lambda b: _post(platform, b, str(uuid.uuid4())), bodies))
    codes = sorted(a.status_code for a in answers)
    assert codes == [201, 201, 409, 409, 409, 409], [a.text for a in answers]
    assert all(a.json()["error"]["code"] == "not_enough_experts" for a in answers if a.status_code == 409)
    with platform.engine.connect() as conn:
        seats = conn.execute(
            text(
                "select a.expert_id from expert_pool.draw_assignments a join expert_pool.draws d on d.id = a.draw_id "
                "where d.lot_id = any(:lots) and a.status = 'pending'"
            ),
            {"lots": [uuid.UUID(b["lot_id"]) for b in bodies]},
        ).scalars().all()  # fmt: skip
    assert len(seats) == 10 and len(set(seats)) == 10


def test_concurrent_retries_of_one_request_make_one_draw(platform: Platform):
    code = _pool_of(platform.engine, 7)
    body = draw_body([(code, 5, 2)])
    with ThreadPoolExecutor(5) as pool:
        answers = list(pool.map(lambda _: _post(platform, body, "same-key-everywhere"), range(5)))
    assert all(a.status_code in (200, 201) for a in answers), [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    with platform.engine.connect() as conn:
        draws = conn.execute(
            text("select count(*) from expert_pool.draws where lot_id = :lot"), {"lot": uuid.UUID(body["lot_id"])}
        ).scalar_one()
        seats = conn.execute(
            text(
                "select count(*) from expert_pool.draw_assignments a join expert_pool.draws d on d.id = a.draw_id "
                "where d.lot_id = :lot"
            ),
            {"lot": uuid.UUID(body["lot_id"])},
        ).scalar_one()
    assert (draws, seats) == (1, 7)
