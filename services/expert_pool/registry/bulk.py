"""Storing experts in bulk: the core of registration and of the CSV import, for other code too.

:func:`insert_experts` takes rows that have already passed every check (format, entry rules,
specialties, duplicates: :func:`services.expert_pool.registry.service.check_new_experts`) and
writes them with PostgreSQL ``COPY``: 100,000 experts in seconds, where row-by-row ``INSERT`` takes
minutes. It writes no audit event: the caller records one for the whole batch.

Benchmarks and tests load experts with it directly::

    cipher = cipher_for(settings.id_number_key)
    ids = insert_experts(session, [NewExpert(...), ...], cipher)
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, cast

import psycopg.errors
from sqlalchemy.orm import Session

from services.expert_pool.registry import errors
from services.expert_pool.registry.identity_numbers import IdNumberCipher, mask_id_number
from shared.errors import ApiError
from shared.platforms import platform_for_region

if TYPE_CHECKING:
    from services.expert_pool.registry.schemas import ExpertCreate

_EXPERT_COLUMNS = (
    "id, platform, region_code, name, id_number_ciphertext, id_number_hmac, id_number_masked, account_subject, "
    "phone, title, title_level, years_experience, specialties, employer_credit_code, employer_name"
)
_EMPLOYMENT_COLUMNS = "id, expert_id, employer_credit_code, employer_name, started_on"


@dataclass(frozen=True, slots=True)
class NewExpert:
    """One expert to store, already validated: ``id_number`` normalised (validate_id_number),
    ``phone`` normalised (normalise_phone), credit code checked, ``region_code`` served by a
    Jincheng platform, specialties active codes, entry rules met."""

    name: str
    id_number: str
    region_code: str
    phone: str
    title: str
    title_level: str
    years_experience: int
    specialties: Sequence[str]
    employer_credit_code: str
    employer_name: str
    employed_since: date
    account_subject: str | None = None
    id: uuid.UUID = field(default_factory=uuid.uuid4)

    @classmethod
    def from_request(cls, body: ExpertCreate) -> NewExpert:
        return cls(
            name=body.name,
            id_number=body.id_number,
            region_code=body.region_code,
            phone=body.phone,
            title=body.title,
            title_level=body.title_level,
            years_experience=body.years_experience,
            specialties=tuple(body.specialties),
            employer_credit_code=body.employer_credit_code,
            employer_name=body.employer_name,
            employed_since=body.employed_since,
            account_subject=body.account_subject,
        )

    @property
    def platform(self) -> str:
        return platform_for_region(self.region_code)


def insert_experts(session: Session, experts: Sequence[NewExpert], cipher: IdNumberCipher) -> list[uuid.UUID]:
    """Store ``experts`` (active) and their current employment in the session's transaction; their
    ids in order. A number or portal account already in the table raises 409 ``expert_exists`` /
    ``account_subject_taken`` (a concurrent registration the caller's checks could not see)."""
    expert_rows: list[tuple[Any, ...]] = []
    employment_rows: list[tuple[Any, ...]] = []
    for e in experts:
        expert_rows.append(
            (
                e.id,
                e.platform,
                e.region_code,
                e.name,
                cipher.seal(e.id_number, e.id),
                cipher.lookup_hash(e.id_number),
                mask_id_number(e.id_number),
                e.account_subject,
                e.phone,
                e.title,
                e.title_level,
                e.years_experience,
                list(e.specialties),
                e.employer_credit_code,
                e.employer_name,
            )
        )
        employment_rows.append((uuid.uuid4(), e.id, e.employer_credit_code, e.employer_name, e.employed_since))
    # Pending ORM changes go first: COPY runs beside the ORM on the same connection.
    session.flush()
    driver = cast("psycopg.Connection[Any]", session.connection().connection.driver_connection)
    try:
        _copy(driver, f"experts ({_EXPERT_COLUMNS})", expert_rows)
        _copy(driver, f"expert_employments ({_EMPLOYMENT_COLUMNS})", employment_rows)
    except psycopg.errors.UniqueViolation as exc:
        raise _duplicate(exc) from None
    return [e.id for e in experts]


def _copy(driver: psycopg.Connection[Any], target: str, rows: Iterable[tuple[Any, ...]]) -> None:
    with driver.cursor() as cursor, cursor.copy(f"copy expert_pool.{target} from stdin") as copy:
        for row in rows:
            copy.write_row(row)


def _duplicate(exc: psycopg.errors.UniqueViolation) -> ApiError:
    if exc.diag.constraint_name == "uq_experts_account_subject":
        return errors.account_subject_taken()
    if exc.diag.constraint_name == "uq_experts_id_number_hmac":
        return errors.expert_exists()
    raise exc
