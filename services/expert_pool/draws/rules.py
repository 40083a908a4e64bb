"""What a draw request must satisfy before anything is drawn, and its canonical form.

Every broken rule is reported at once (``draw_rule_violated``, like trading's lot rules), each with
the article it comes from, so that a county system can fix its request in one go.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.expert_pool.draws import errors
from shared.contracts.experts import DrawRequest
from shared.credit_code import InvalidCreditCode, validate_credit_code
from shared.platforms import UnknownRegion, is_known_platform, platform_for_region

LAW_37 = "招标投标法 第三十七条"
GP_47 = "政府采购货物和服务招标投标管理办法（财政部令第87号） 第四十七条"
# 87号令 第四十七条: a budget of 10,000,000 CNY or more needs at least seven members.
GP_LARGE_BUDGET_FEN = 1_000_000_000
MIN_MEMBERS = 5
MIN_MEMBERS_GP_LARGE = 7


def _violation(rule: str, basis: str, message: str) -> dict[str, str]:
    return {"rule": rule, "basis": basis, "message": message}


def _credit_code(value: str, field: str, violations: list[dict[str, str]]) -> str:
    try:
        return validate_credit_code(value)
    except InvalidCreditCode as exc:
        violations.append(
            _violation("invalid_credit_code", "GB 32100-2015", f"{field} 不是有效的统一社会信用代码：{exc}")
        )
        return value.strip().upper()


def utc_text(value: datetime) -> str:
    """A timestamp in the canonical request: UTC, ISO 8601 with ``Z``."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _where(body: DrawRequest) -> list[dict[str, str]]:
    if not is_known_platform(body.platform):
        return [_violation("unknown_platform", "1+4", f"平台 {body.platform} 不是晋城市的交易平台")]
    try:
        if platform_for_region(body.region_code) != body.platform:
            message = f"行政区划 {body.region_code} 不属于平台 {body.platform}"
            return [_violation("region_platform_mismatch", "1+4", message)]
    except UnknownRegion:
        return [_violation("unknown_region", "GB/T 2260", f"行政区划 {body.region_code} 不在晋城市")]
    return []


def _composition(body: DrawRequest, members: int) -> list[dict[str, str]]:
    found = []
    if members % 2 == 0:
        found.append(_violation("committee_even", LAW_37, f"评标专家人数须为单数，申请为 {members} 人"))
    if members < MIN_MEMBERS:
        found.append(_violation("committee_too_small", LAW_37, f"评标专家须为五人以上，申请为 {members} 人"))
    if (
        body.law == "government_procurement"
        and body.budget_fen >= GP_LARGE_BUDGET_FEN
        and members < MIN_MEMBERS_GP_LARGE
    ):
        message = f"采购预算 1000 万元以上，评审专家须为七人以上，申请为 {members} 人"
        found.append(_violation("gp_committee_too_small", GP_47, message))
    codes = [line.specialty for line in body.specialties]
    if len(set(codes)) != len(codes):
        found.append(_violation("duplicate_specialty", "request", "同一专业在申请中出现多次，请合并为一行"))
    return found


def _times(body: DrawRequest, now: datetime | None) -> list[dict[str, str]]:
    found = []
    if body.evaluation_starts_at >= body.evaluation_ends_at:
        found.append(_violation("evaluation_period_invalid", "request", "评标开始时间须早于结束时间"))
    if now is not None and body.evaluation_starts_at <= now:
        found.append(_violation("evaluation_in_past", "request", "评标开始时间已过，不能再为其抽取专家"))
    return found


def _venues(body: DrawRequest, members: int) -> list[dict[str, str]]:
    found = []
    if body.remote:
        if len([v for v in body.venues if v.role == "main"]) != 1:
            basis = "发改法规规〔2022〕1117号 第十五条"
            found.append(_violation("remote_main_venue", basis, "远程异地评标须有且仅有一个主场"))
        seats = sum(v.seats for v in body.venues)
        if seats < members:
            message = f"各评标场所座位共 {seats} 个，少于评标专家 {members} 人"
            found.append(_violation("remote_seats_insufficient", "request", message))
    elif body.venues:
        found.append(_violation("venues_without_remote", "request", "只有远程异地评标才指定主场和副场"))
    venue_ids = [v.venue_id for v in body.venues]
    if len(set(venue_ids)) != len(venue_ids):
        found.append(_violation("duplicate_venue", "request", "同一评标场所在申请中出现多次"))
    return found


def check_request(body: DrawRequest, *, now: datetime | None) -> dict[str, Any]:
    """The request in canonical form (credit codes checked and upper-case, bidders sorted without
    repeats, times in UTC), or ``draw_rule_violated`` listing every rule it breaks. Without ``now``
    (a retry of a request accepted before) the evaluation may have started meanwhile."""
    members = sum(line.count for line in body.specialties)
    violations = _where(body) + _composition(body, members) + _times(body, now) + _venues(body, members)
    tenderee = _credit_code(body.tenderee_credit_code, "tenderee_credit_code", violations)
    agency = (
        _credit_code(body.agency_credit_code, "agency_credit_code", violations)
        if body.agency_credit_code is not None
        else None
    )
    bidders = sorted({_credit_code(c, "bidder_credit_codes", violations) for c in body.bidder_credit_codes})
    if violations:
        raise errors.rule_violated(violations)

    canonical = body.model_dump(mode="json")
    canonical.update(
        tenderee_credit_code=tenderee,
        agency_credit_code=agency,
        bidder_credit_codes=bidders,
        evaluation_starts_at=utc_text(body.evaluation_starts_at),
        evaluation_ends_at=utc_text(body.evaluation_ends_at),
    )
    return canonical


def request_document(kind: str, parent_id: str | None, reason: str | None, request: dict[str, Any]) -> dict[str, Any]:
    """The document whose SHA-256 is the draw's request digest (docs/draw.md §2)."""
    return {
        "format": "jincheng-draw-request/1",
        "kind": kind,
        "parent_id": parent_id,
        "reason": reason,
        "request": request,
    }
