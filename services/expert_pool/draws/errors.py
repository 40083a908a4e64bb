"""Errors of the draw (docs/errors.md, section "Draws")."""

from __future__ import annotations

import uuid
from typing import Any

from shared.errors import ApiError, Conflict, NotFound, Unprocessable


def draw_not_found() -> NotFound:
    # The same answer for "absent" and "another county's": nothing leaks (shared/auth ensure_platform_access).
    return NotFound("抽取记录不存在")


def assignment_not_found() -> NotFound:
    return NotFound("抽取任务不存在")


def rule_violated(violations: list[dict[str, str]]) -> Unprocessable:
    return Unprocessable(
        "抽取申请不符合法定要求：" + "；".join(v["message"] for v in violations),
        code="draw_rule_violated",
        details={"violations": violations},
    )


def unknown_specialty(codes: list[str]) -> Unprocessable:
    return Unprocessable("专业代码不存在或已停用", code="unknown_specialty", details={"codes": codes})


def forbidden_platform(platform: str) -> ApiError:
    return ApiError(
        "不能为其他县（市）平台的标段抽取专家",
        code="forbidden_platform",
        status_code=403,
        details={"platform": platform},
    )


def idempotency_key_required() -> Unprocessable:
    return Unprocessable("抽取申请须带 Idempotency-Key 请求头（建议使用 UUID）", code="idempotency_key_required")


def invalid_idempotency_key() -> Unprocessable:
    return Unprocessable(
        "Idempotency-Key 须为 1–128 个字母、数字或 . _ : - 字符（建议使用 UUID）", code="invalid_idempotency_key"
    )


def idempotency_key_reused(draw_id: uuid.UUID) -> Unprocessable:
    return Unprocessable(
        "该 Idempotency-Key 已用于另一份抽取申请；抽取不能重复进行以换取另一组专家",
        code="idempotency_key_reused",
        details={"draw_id": str(draw_id)},
    )


def lot_already_drawn(draw_id: uuid.UUID) -> Conflict:
    return Conflict(
        "该标段已抽取过专家；如须重新抽取，请对原抽取记录申请重新抽取并说明理由",
        code="lot_already_drawn",
        details={"draw_id": str(draw_id)},
    )


def not_enough_experts(shortfall: list[dict[str, Any]], draw_id: uuid.UUID) -> Conflict:
    return Conflict(
        "符合条件的专家人数不足，抽取未能完成",
        code="not_enough_experts",
        details={"draw_id": str(draw_id), "specialties": shortfall},
    )


def pool_changing() -> Conflict:
    return Conflict("专家库在抽取过程中持续变动，请稍后重试（使用同一 Idempotency-Key）", code="pool_changing")


def wrong_status(status: str, allowed: list[str]) -> Conflict:
    return Conflict(
        "抽取记录当前状态不允许此操作", code="draw_wrong_status", details={"status": status, "allowed": allowed}
    )


def sealed(status: str) -> Conflict:
    return Conflict(
        "评标结果确定前专家名单保密（招标投标法 第三十七条）", code="draw_sealed", details={"status": status}
    )


def result_not_decided() -> Conflict:
    return Conflict("评标尚未开始，结果未确定，不能公开专家名单", code="result_not_decided")


def no_shortfall() -> Conflict:
    return Conflict("评标委员会人数已足或仍有候补专家，无须补充抽取", code="no_shortfall")


def assignment_wrong_status(status: str, allowed: list[str]) -> Conflict:
    return Conflict(
        "该抽取任务当前状态不允许此操作",
        code="assignment_wrong_status",
        details={"status": status, "allowed": allowed},
    )


def response_closed() -> Conflict:
    return Conflict("评标已开始，不能再确认或回避，请联系交易中心", code="response_closed")


def not_an_expert() -> ApiError:
    return ApiError("当前账号未绑定评标专家库中的专家", code="not_an_expert", status_code=403)
