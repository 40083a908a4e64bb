"""Refusals of the evaluation (docs/errors.md, section "Evaluation"), each with its stable code."""

from __future__ import annotations

from typing import Any

from shared.errors import ApiError, Conflict, Forbidden, NotFound, Unprocessable


def evaluation_not_found() -> NotFound:
    return NotFound("评标不存在", code="evaluation_not_found")


def evaluation_exists(evaluation_id: object) -> Conflict:
    return Conflict("该标段已有进行中的评标", code="evaluation_exists", details={"evaluation_id": str(evaluation_id)})


def lot_not_opened(status: str) -> Conflict:
    return Conflict("该标段尚未开标或开标失败，不能评标", code="lot_not_opened", details={"opening_status": status})


def opening_mismatch() -> ApiError:
    return ApiError("交易平台返回的开标结果与标段不符", code="upstream_error", status_code=502)


def no_bids() -> Conflict:
    return Conflict("开标结果中没有已解密的投标文件", code="no_opened_bids")


def invalid_venues(message: str, details: Any = None) -> Unprocessable:
    return Unprocessable(message, code="invalid_venues", details=details)


def committee_incomplete(members: int) -> Conflict:
    return Conflict(
        "评标委员会须为5人以上单数（招标投标法 第三十七条），当前已确认的成员人数不符",
        code="committee_incomplete",
        details={"accepted_members": members},
    )


def member_venue_unknown(expert_ids: list[str]) -> Unprocessable:
    return Unprocessable(
        "评标委员会成员被分配到未列入本次评标的场地", code="member_venue_unknown", details={"expert_ids": expert_ids}
    )


def scoring_error(code: str, message: str, details: Any = None) -> Unprocessable:
    return Unprocessable(message, code=code, details=details)


def wrong_status(status: str, allowed: list[str]) -> Conflict:
    """Paused, sealed and completed sessions have codes of their own so clients can tell them apart."""
    if status == "paused":
        return Conflict("评标已暂停，恢复后方可继续", code="evaluation_paused", details={"status": status})
    if status == "sealed":
        return Conflict("评标已封存，须重新组建评标委员会", code="evaluation_sealed", details={"status": status})
    if status == "completed":
        return Conflict("评标已结束，评标报告已签署", code="evaluation_completed", details={"status": status})
    return Conflict(
        "评标当前阶段不允许此操作",
        code="evaluation_wrong_status",
        details={"status": status, "allowed": allowed},
    )


def member_replaced() -> Conflict:
    return Conflict("您已被替换，不再是本次评标委员会成员，意见无效", code="member_replaced")


def unknown_venue() -> Unprocessable:
    return Unprocessable("该场地不属于本次评标", code="unknown_venue")


def wrong_venue(assigned: object) -> Unprocessable:
    return Unprocessable("须在分配给您的评标场地签到", code="wrong_venue", details={"assigned_venue_id": str(assigned)})


def stale_attestation(recorded: str, now: str) -> Unprocessable:
    return Unprocessable(
        "身份核验时间与服务器时间相差过大，请在场地设备上重新核验",
        code="stale_attestation",
        details={"attested_at": recorded, "server_time": now},
    )


def identity_not_verified() -> Forbidden:
    return Forbidden("身份核验未通过，不能签到；核验记录已保存", code="identity_not_verified")


def already_checked_in() -> Conflict:
    return Conflict("已签到", code="already_checked_in")


def not_checked_in() -> Conflict:
    return Conflict("请先在评标场地签到", code="not_checked_in")


def not_a_member(expert_id: object) -> Unprocessable:
    return Unprocessable(
        "该专家不是本次评标委员会的有效成员", code="not_a_member", details={"expert_id": str(expert_id)}
    )


def leader_already_chosen() -> Conflict:
    return Conflict("评标委员会负责人已产生", code="leader_already_chosen")


def already_voted() -> Conflict:
    return Conflict("您已投过票，每人一票", code="already_voted")


def members_not_checked_in(expert_ids: list[str]) -> Conflict:
    return Conflict("尚有成员未签到", code="members_not_checked_in", details={"expert_ids": expert_ids})


def leader_not_chosen() -> Conflict:
    return Conflict("尚未产生评标委员会负责人", code="leader_not_chosen")


def not_the_leader() -> Forbidden:
    return Forbidden("仅评标委员会负责人或交易中心工作人员可执行此操作", code="not_the_leader")


def duplicate_score(bid_id: str, criterion: str) -> Unprocessable:
    return Unprocessable(
        "同一投标的同一评分因素只能打一次分",
        code="duplicate_score",
        details={"bid_id": bid_id, "criterion": criterion},
    )


def invalid_sheet(problems: list[dict[str, Any]]) -> Unprocessable:
    return Unprocessable("评分表不完整或分值超出范围", code="invalid_sheet", details={"problems": problems})


def sheet_already_submitted(sha256: str) -> Conflict:
    return Conflict(
        "评分表已签署提交，只能通过更正程序修改", code="sheet_already_submitted", details={"sha256": sha256}
    )


def no_sheet() -> Conflict:
    return Conflict("尚未提交评分表", code="no_sheet")


def correction_pending() -> Conflict:
    return Conflict("已有待处理的更正申请", code="correction_pending")


def correction_changes_nothing() -> Unprocessable:
    return Unprocessable("更正后的评分与原评分相同", code="correction_changes_nothing")


def correction_not_found() -> NotFound:
    return NotFound("更正申请不存在", code="correction_not_found")


def correction_decided(status: str) -> Conflict:
    return Conflict("该更正申请已处理", code="correction_decided", details={"status": status})


def own_correction() -> Forbidden:
    return Forbidden("不能审批自己的更正申请", code="own_correction")


def unknown_bid(bid_id: object) -> Unprocessable:
    return Unprocessable("开标结果中没有该投标", code="unknown_bid", details={"bid_id": str(bid_id)})


def rejection_exists(rejection_id: object) -> Conflict:
    return Conflict(
        "该投标已有否决动议或已被否决", code="rejection_exists", details={"rejection_id": str(rejection_id)}
    )


def rejection_not_found() -> NotFound:
    return NotFound("否决动议不存在", code="rejection_not_found")


def rejection_decided(status: str) -> Conflict:
    return Conflict("该否决动议已有结论", code="rejection_decided", details={"status": status})


def sheets_missing(expert_ids: list[str]) -> Conflict:
    return Conflict("尚有成员未提交评分表", code="sheets_missing", details={"expert_ids": expert_ids})


def open_matters(corrections: list[str], rejections: list[str]) -> Conflict:
    return Conflict(
        "尚有待处理的更正申请或否决动议",
        code="open_matters",
        details={"corrections": corrections, "rejections": rejections},
    )


def outage_limit_exceeded(phase: str, limit_minutes: int, paused_minutes: int) -> Conflict:
    return Conflict(
        "中断时间超过规定时限，评标已封存，须重新抽取专家组建评标委员会",
        code="outage_limit_exceeded",
        details={"phase": phase, "limit_minutes": limit_minutes, "paused_minutes": paused_minutes},
    )


def report_not_found() -> NotFound:
    return NotFound("评标报告尚未生成", code="report_not_found")


def already_rated() -> Conflict:
    return Conflict("已评价过该专家", code="already_rated")
