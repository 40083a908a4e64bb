"""The registry's refusals, each with its stable code (docs/errors.md, "Expert registry")."""

from __future__ import annotations

from typing import Any

from services.expert_pool.registry.rules import ENTRY_RULE_BASIS, MIN_YEARS_EXPERIENCE, SENIOR_TITLE_LEVELS
from shared.errors import ApiError, Conflict, Forbidden, NotFound, Unprocessable


def expert_not_found() -> NotFound:
    return NotFound("专家不存在")


def expert_not_qualified(failed: list[str]) -> Unprocessable:
    return Unprocessable(
        "不符合评标专家入库条件：须从事相关领域工作满八年并具有高级职称",
        code="expert_not_qualified",
        details=not_qualified_details(failed),
    )


def not_qualified_details(failed: list[str]) -> dict[str, Any]:
    return {
        "failed": failed,
        "min_years_experience": MIN_YEARS_EXPERIENCE,
        "title_levels": list(SENIOR_TITLE_LEVELS),
        "basis": ENTRY_RULE_BASIS,
    }


def unknown_specialty(codes: list[str]) -> Unprocessable:
    return Unprocessable("专业代码不存在或已停用", code="unknown_specialty", details={"codes": codes})


def unknown_region(region_code: str) -> Unprocessable:
    return Unprocessable(
        "该行政区划不属于晋城市任何交易平台", code="unknown_region", details={"region_code": region_code}
    )


def forbidden_platform(platform: str) -> Forbidden:
    return Forbidden("县级平台只能登记本平台的专家", code="forbidden_platform", details={"expert_platform": platform})


def expert_exists() -> Conflict:
    # No details: saying which record holds the number would tell a county operator about another
    # county's expert.
    return Conflict("该身份证号码的专家已在库中（含已除名的专家）", code="expert_exists")


def account_subject_taken() -> Conflict:
    return Conflict("该门户账号已关联其他专家", code="account_subject_taken")


def expert_removed() -> Conflict:
    return Conflict("专家已除名，记录不可再修改", code="expert_removed")


def invalid_status_transition(current: str, wanted: str) -> Conflict:
    return Conflict(
        "专家当前状态不允许此操作", code="invalid_status_transition", details={"status": current, "to": wanted}
    )


def invalid_period(message: str) -> Unprocessable:
    return Unprocessable(message, code="invalid_period")


def conflict_exists() -> Conflict:
    return Conflict("已申报过相同的利害关系", code="conflict_exists")


def expert_not_linked() -> NotFound:
    return NotFound("当前账号未关联专家记录", code="expert_not_linked")


def import_rejected(details: dict[str, Any]) -> Unprocessable:
    return Unprocessable("导入文件有错误，未导入任何专家", code="import_rejected", details=details)


def unsupported_media_type(expected: str) -> ApiError:
    return ApiError(
        "请以 text/csv（UTF-8）原样上传导入文件",
        code="unsupported_media_type",
        status_code=415,
        details={"expected": expected},
    )
