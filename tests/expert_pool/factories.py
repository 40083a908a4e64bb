"""Valid experts, quickly, for every expert-pool test (registry, draws, evaluation) and benchmarks.

A small API meant to stay stable:

- ``make_id_number(n)``: the n-th valid resident ID number (GB 11643-1999); distinct n give
  distinct numbers, ``None`` a random one.
- ``make_credit_code(n)``, ``make_phone(n)``: valid, distinct for distinct n; ``None`` random.
- ``expert_body(specialties, **overrides)``: a JSON body for ``POST /experts`` that passes.
- ``expert_row(specialties, **overrides)``: a :class:`NewExpert` for ``insert_experts``.
- ``add_specialty(session, code=None, active=True)``: a specialty code, stored.
- ``create_experts(session, count, specialties=..., **overrides)``: ``count`` active experts stored
  in bulk (COPY, the import's path), their ids. ``status="suspended"``/``"removed"`` for others.

Experts are encrypted under the development ID-number key, the one ``make_client("expert_pool")``
uses, so the app can read what these helpers write.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.orm import Session

from services.expert_pool.registry.bulk import NewExpert, insert_experts
from services.expert_pool.registry.identity_numbers import check_character, cipher_for
from services.expert_pool.registry.models import Expert, Specialty
from services.expert_pool.settings import DEV_ID_NUMBER_KEY
from shared.credit_code import make_credit_code as _complete_credit_code

# Region of the city platform (城区); pass region="140581" etc. for a county expert.
CITY_REGION = "140502"
_BIRTH_BASE = date(1955, 1, 1)
_RANDOM_SPACE = 10**7


def _pick(n: int | None) -> int:
    return random.randrange(_RANDOM_SPACE) if n is None else n


def make_id_number(n: int | None = None, *, region: str = CITY_REGION) -> str:
    """A valid 18-character ID number: birth date and sequence number derived from ``n``
    (0 ≤ n < 10,000,000 gives birth dates from 1955 to about 1982), check character computed."""
    n = _pick(n)
    born = _BIRTH_BASE + timedelta(days=n // 1000)
    first17 = f"{region}{born:%Y%m%d}{n % 1000:03d}"
    return first17 + check_character(first17)


def make_credit_code(n: int | None = None) -> str:
    """A valid unified social credit code (GB 32100-2015) of an enterprise in Jincheng."""
    return _complete_credit_code(f"91140500{_pick(n):09d}")


def make_phone(n: int | None = None) -> str:
    return f"139{_pick(n) % 10**8:08d}"


def expert_body(specialties: Sequence[str], n: int | None = None, /, **overrides: Any) -> dict[str, Any]:
    """A body ``POST /experts`` accepts (given active ``specialties``): a senior engineer with 15
    years, on the city platform unless ``region_code`` says otherwise."""
    n = _pick(n)
    region = overrides.pop("region", CITY_REGION)
    body: dict[str, Any] = {
        "name": "张建国",
        "id_number": make_id_number(n, region=region),
        "region_code": region,
        "phone": make_phone(n),
        "title": "高级工程师",
        "title_level": "senior",
        "years_experience": 15,
        "specialties": list(specialties),
        "employer_credit_code": make_credit_code(n),
        "employer_name": "晋城市建筑设计院有限公司",
        "employed_since": "2012-03-01",
        "account_subject": None,
    }
    body.update(overrides)
    return body


def expert_row(specialties: Sequence[str], n: int | None = None, /, **overrides: Any) -> NewExpert:
    """The same expert as :func:`expert_body`, as a row for ``insert_experts``."""
    body = expert_body(specialties, n, **overrides)
    body["employed_since"] = date.fromisoformat(body["employed_since"])
    body["specialties"] = tuple(body["specialties"])
    return NewExpert(**body)


def add_specialty(session: Session, code: str | None = None, *, active: bool = True, name: str | None = None) -> str:
    code = code or "T" + "".join(random.choices("0123456789", k=9))
    session.add(Specialty(code=code, name=name or f"专业{code}", parent_code=None, active=active))
    session.flush()
    return code


def create_experts(
    session: Session,
    count: int,
    *,
    specialties: Sequence[str],
    start: int | None = None,
    status: str = "active",
    **overrides: Any,
) -> list[uuid.UUID]:
    """Store ``count`` experts numbered ``start``, ``start + 1``… (random ``start`` by default) with
    the given ``specialties`` (codes that exist), via the bulk path. Overrides apply to every row,
    e.g. ``region="140581"`` for Gaoping experts, ``employer_credit_code=...`` for avoidance tests.
    A ``status`` other than active is set afterwards, with a reason, as the API would."""
    first = random.randrange(_RANDOM_SPACE - count) if start is None else start
    rows = [expert_row(specialties, first + i, **overrides) for i in range(count)]
    ids = insert_experts(session, rows, cipher_for(DEV_ID_NUMBER_KEY))
    if status != "active":
        session.execute(
            update(Expert)
            .where(Expert.id.in_(ids))
            .values(status=status, status_reason="测试", status_changed_at=func.clock_timestamp())
        )
    return ids
