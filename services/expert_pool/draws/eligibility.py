"""Who may be drawn for a request: one statement over the pool, per specialty line, giving the
eligible experts (sorted by id) and how many candidates each avoidance rule excluded.

A candidate is an expert who has the specialty. Each candidate is counted under the *first* rule
of :data:`RULES` that excludes them, so the counts of a specialty add up to its candidates minus
its eligible experts. Credit bans (supervision's answer) are applied afterwards, outside this
statement, because they come from another service.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from shared.platforms import PLATFORMS

# In the order they are applied (docs/draw.md §1).
RULES = (
    "inactive",  # status other than active
    "entry_rule",  # 招标投标法 第三十七条: >= 8 years and a senior title (engineering, bidding law)
    "same_region",  # experts_outside_region: home region or platform the project's
    "employment",  # employee of the tenderee, agency or a bidder, now or within former_employee_years
    "declared_conflict",  # a declared interest in one of those organisations
    "already_drawn_for_lot",  # drawn before for this lot (re-draws and supplementary draws)
    "same_tenderee_limit",  # served the same tenderee same_tenderee_limit times in the period
    "unavailable",  # declared unavailable during the evaluation
    "committed_elsewhere",  # accepted or pending in another live draw whose evaluation overlaps
)
ENTRY_YEARS = 8
SENIOR_TITLES = ("senior", "associate_senior")

# {only} narrows every part to the experts in :only (the re-check under the selection lock).
_JUDGED = """
with lines as (
    select s.code, s.ord from unnest(cast(:codes as varchar[])) with ordinality as s(code, ord)
),
employed as (
    select id as expert_id from expert_pool.experts
    where employer_credit_code = any(cast(:orgs as varchar[])) {only_id}
    union
    select expert_id from expert_pool.expert_employments
    where employer_credit_code = any(cast(:orgs as varchar[])) {only_expert}
      and (ended_on is null
           or ended_on >= cast(timezone('Asia/Shanghai', clock_timestamp()) as date)
                          - make_interval(years => :former_years))
),
conflicted as (
    select expert_id from expert_pool.expert_conflicts
    where organisation_credit_code = any(cast(:orgs as varchar[])) {only_expert}
),
drawn_for_lot as (
    select a.expert_id from expert_pool.draw_assignments a join expert_pool.draws d on d.id = a.draw_id
    where d.lot_id = :lot_id and d.id <> :draw_id {only_assignment}
),
frequent as (
    select a.expert_id from expert_pool.draw_assignments a join expert_pool.draws d on d.id = a.draw_id
    where d.tenderee_credit_code = :tenderee and d.status in ('sealed', 'revealed')
      and d.selected_at >= clock_timestamp() - make_interval(days => :period_days)
      and a.status in ('pending', 'accepted') {only_assignment}
    group by a.expert_id having count(*) >= :tenderee_limit
),
unavailable as (
    select expert_id from expert_pool.expert_unavailability
    where starts_at < :ends_at and ends_at > :starts_at {only_expert}
),
busy as (
    select a.expert_id from expert_pool.draw_assignments a join expert_pool.draws d on d.id = a.draw_id
    where a.status in ('pending', 'accepted') and d.status in ('sealed', 'revealed') and d.lot_id <> :lot_id
      and d.evaluation_starts_at < :ends_at and d.evaluation_ends_at > :starts_at {only_assignment}
),
judged as (
    select l.ord, e.id,
        case
            when e.status <> 'active' then 'inactive'
            when :entry_rule and (e.years_experience < :entry_years
                                  or e.title_level <> all(cast(:senior_titles as varchar[]))) then 'entry_rule'
            when :outside_region and (e.region_code = :region_code
                                      or e.region_code = any(cast(:platform_regions as varchar[]))) then 'same_region'
            when e.id in (select expert_id from employed) then 'employment'
            when e.id in (select expert_id from conflicted) then 'declared_conflict'
            when e.id in (select expert_id from drawn_for_lot) then 'already_drawn_for_lot'
            when e.id in (select expert_id from frequent) then 'same_tenderee_limit'
            when e.id in (select expert_id from unavailable) then 'unavailable'
            when e.id in (select expert_id from busy) then 'committed_elsewhere'
        end as excluded_by
    from lines l
    join expert_pool.experts e on e.specialties @> array[l.code]::varchar(16)[] {only_join}
)
"""
_NARROW = {
    "only_join": "and e.id = any(cast(:only as uuid[]))",
    "only_id": "and id = any(cast(:only as uuid[]))",
    "only_expert": "and expert_id = any(cast(:only as uuid[]))",
    "only_assignment": "and a.expert_id = any(cast(:only as uuid[]))",
}
_ELIGIBILITY = text(
    _JUDGED.format(**dict.fromkeys(_NARROW, ""))
    + """
select ord, excluded_by, count(*) as n,
       string_agg(id::text, ',' order by id) filter (where excluded_by is null) as ids
from judged
group by ord, excluded_by
"""
)
# Only this module's constant fragments are formatted in; every value is a bound parameter.
_RECHECK = text(_JUDGED.format(**_NARROW) + "select ord, id::text, excluded_by from judged")  # noqa: S608


@dataclass
class LineEligibility:
    """One specialty line: its eligible experts (ids as canonical text, sorted) and the counts."""

    specialty: str
    eligible: list[str] = field(default_factory=list)
    excluded: dict[str, int] = field(default_factory=dict)

    @property
    def candidates(self) -> int:
        return len(self.eligible) + sum(self.excluded.values())


@dataclass(frozen=True)
class Criteria:
    """What eligibility depends on, from the request and the service's settings."""

    draw_id: uuid.UUID
    lot_id: uuid.UUID
    specialties: Sequence[str]
    law: str
    region_code: str
    platform: str
    outside_region: bool
    organisations: Sequence[str]
    tenderee: str
    starts_at: datetime
    ends_at: datetime
    former_employee_years: int
    same_tenderee_limit: int
    same_tenderee_period_days: int

    @classmethod
    def of(cls, draw_id: uuid.UUID, request: dict[str, Any], settings: Any) -> Criteria:
        organisations = [request["tenderee_credit_code"], *request["bidder_credit_codes"]]
        if request.get("agency_credit_code"):
            organisations.append(request["agency_credit_code"])
        return cls(
            draw_id=draw_id,
            lot_id=uuid.UUID(request["lot_id"]),
            specialties=[line["specialty"] for line in request["specialties"]],
            law=request["law"],
            region_code=request["region_code"],
            platform=request["platform"],
            outside_region=bool(request["experts_outside_region"]),
            organisations=sorted(set(organisations)),
            tenderee=request["tenderee_credit_code"],
            starts_at=datetime.fromisoformat(request["evaluation_starts_at"]),
            ends_at=datetime.fromisoformat(request["evaluation_ends_at"]),
            former_employee_years=settings.former_employee_years,
            same_tenderee_limit=settings.same_tenderee_limit,
            same_tenderee_period_days=settings.same_tenderee_period_days,
        )


def _params(criteria: Criteria) -> dict[str, Any]:
    platform = PLATFORMS.get(criteria.platform)
    return {
        "codes": list(criteria.specialties),
        "orgs": list(criteria.organisations),
        "former_years": criteria.former_employee_years,
        "lot_id": criteria.lot_id,
        "draw_id": criteria.draw_id,
        "tenderee": criteria.tenderee,
        "period_days": criteria.same_tenderee_period_days,
        "tenderee_limit": criteria.same_tenderee_limit,
        "starts_at": criteria.starts_at,
        "ends_at": criteria.ends_at,
        # 招标投标法 第三十七条 is the engineering (bidding-law) entry rule; GP experts follow 87号令.
        "entry_rule": criteria.law == "bidding_law",
        "entry_years": ENTRY_YEARS,
        "senior_titles": list(SENIOR_TITLES),
        "outside_region": criteria.outside_region,
        "region_code": criteria.region_code,
        "platform_regions": list(platform.regions if platform else ()),
    }


def eligibility(session: Session, criteria: Criteria) -> list[LineEligibility]:
    """Per specialty line in request order: eligible ids (sorted) and exclusion counts by rule."""
    lines = [LineEligibility(code) for code in criteria.specialties]
    for ord_, excluded_by, n, ids in session.execute(_ELIGIBILITY, _params(criteria)):
        line = lines[ord_ - 1]
        if excluded_by is None:
            # One string rather than an array: tens of thousands of ids arrive in a millisecond.
            line.eligible = ids.split(",") if ids else []
        else:
            line.excluded[excluded_by] = int(n)
    return lines


def recheck(session: Session, criteria: Criteria, expert_ids: Sequence[str]) -> dict[tuple[int, str], str | None]:
    """The same judgement for a few experts, now: ``(line index, id)`` to the excluding rule, or
    None if eligible. A pair missing from the answer no longer has the line's specialty."""
    params = {**_params(criteria), "only": [uuid.UUID(i) for i in expert_ids]}
    return {(ord_ - 1, expert_id): rule for ord_, expert_id, rule in session.execute(_RECHECK, params)}
