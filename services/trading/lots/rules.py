"""What the law forbids in a lot, as a pure function: every violation found, each naming its rule.

Pure (no database, no clock of its own) so each article is tested on its boundaries directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from services.trading.lots.schemas import NON_CASH_FORMS, ComprehensiveScoring, LotCreate
from shared.workdays import WorkdayCalendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
TENDER_METHODS = ("open_tender", "invited_tender")
MIN_BIDDING_PERIOD = timedelta(days=20)
MIN_DOCUMENTS_DAYS = timedelta(days=5)
MIN_DOCUMENTS_WORKDAYS = 5
MAX_DEPOSIT_SHARE = Decimal("0.02")
GP_MIN_PRICE_WEIGHT = {"goods": Decimal(30), "services": Decimal(10)}
SME_DISCOUNT_RANGE = {
    "goods": (Decimal(10), Decimal(20)),
    "services": (Decimal(10), Decimal(20)),
    "works": (Decimal(3), Decimal(5)),
}
INNOVATION_DISCOUNT = Decimal(10)


@dataclass(frozen=True)
class Violation:
    rule: str
    basis: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "basis": self.basis, "message": self.message}


def _local_day(moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date()


def _workdays_inclusive(calendar: WorkdayCalendar, first: date, last: date) -> int:
    return (1 if calendar.is_workday(first) else 0) + calendar.workdays_between(first, last)


def check_lot(category: dict[str, Any], lot: LotCreate, *, now: datetime, calendar: WorkdayCalendar) -> list[Violation]:
    gp = category["law"] == "government_procurement"
    found: list[Violation] = []

    def add(rule: str, basis: str, message: str) -> None:
        found.append(Violation(rule, basis, message))

    if lot.procurement_method not in category["methods"]:
        add(
            "method_not_allowed",
            "交易目录",
            f"{category['name']}不允许采用 {lot.procurement_method}，可选：{', '.join(category['methods'])}",
        )
    if lot.bid_deadline <= now:
        add("deadline_in_past", "招标投标法 第二十四条", "投标截止时间已过")
    if not lot.documents_from < lot.documents_until <= lot.bid_deadline:
        add(
            "documents_window_invalid",
            "招标投标法实施条例 第十六条",
            "招标文件发售期须早于投标截止时间，且开始早于结束",
        )
    if lot.procurement_method in TENDER_METHODS and lot.bid_deadline - lot.documents_from < MIN_BIDDING_PERIOD:
        basis = "政府采购法 第三十五条" if gp else "招标投标法 第二十四条"
        add("bidding_period_too_short", basis, "自招标文件开始发出之日起至投标截止之日止，不得少于二十日")
    if gp:
        if _workdays_inclusive(calendar, _local_day(lot.documents_from), _local_day(lot.documents_until)) < (
            MIN_DOCUMENTS_WORKDAYS
        ):
            add(
                "documents_period_too_short",
                "政府采购货物和服务招标投标管理办法（87号令）第十八条",
                "招标文件提供期限不得少于5个工作日",
            )
    elif lot.documents_until - lot.documents_from < MIN_DOCUMENTS_DAYS:
        add("documents_period_too_short", "招标投标法实施条例 第十六条", "招标文件发售期不得少于5日")
    _check_deposit(category, lot, gp, add)
    _check_evaluation(category, lot, gp, add)
    _check_adjustments(category, lot, gp, add)
    return found


def _check_deposit(category: dict[str, Any], lot: LotCreate, gp: bool, add: Any) -> None:
    deposit = lot.deposit
    if not deposit.required:
        return
    if Decimal(deposit.amount_fen) > MAX_DEPOSIT_SHARE * lot.estimated_price_fen:
        add("deposit_exceeds_2_percent", "招标投标法实施条例 第二十六条", "投标保证金不得超过招标项目估算价的2%")
    if not gp:
        return
    if deposit.forms is not None and "cash" in deposit.forms:
        add("gp_cash_deposit", "政府采购法实施条例 第三十三条", "政府采购投标保证金应当以非现金形式提交")
    if deposit.forms is not None and set(deposit.forms) != set(NON_CASH_FORMS):
        add(
            "gp_deposit_form_restricted",
            "政府采购法实施条例 第三十三条；财库〔2019〕38号",
            "投标保证金形式由供应商自主选择，不得限定",
        )
    if not deposit.legal_basis:
        add(
            "gp_deposit_without_legal_basis",
            "财库〔2019〕38号；晋城市营商环境创新提升行动方案 第3项",
            "政府采购项目无法定依据不得收取投标保证金",
        )
    if deposit.designated_guarantor:
        add("gp_designated_guarantor", "晋城市营商环境创新提升行动方案 第3项", "不得指定出具保函的金融机构或担保机构")


def _check_evaluation(category: dict[str, Any], lot: LotCreate, gp: bool, add: Any) -> None:
    if not (gp and isinstance(lot.evaluation, ComprehensiveScoring)):
        return
    minimum = GP_MIN_PRICE_WEIGHT.get(category["kind"])
    if minimum is not None and lot.evaluation.price_weight < minimum:
        add(
            "gp_price_weight_too_low",
            "政府采购货物和服务招标投标管理办法（87号令）第五十五条",
            f"{category['name']}综合评分法中价格分值占比不得低于{minimum}%",
        )


def _check_adjustments(category: dict[str, Any], lot: LotCreate, gp: bool, add: Any) -> None:
    adjustments = lot.price_adjustments
    if adjustments is None:
        return
    if not gp:
        add("price_adjustments_gp_only", "政府采购促进中小企业发展管理办法", "价格扣除仅适用于政府采购项目")
        return
    if adjustments.sme_discount_pct is not None:
        low, high = SME_DISCOUNT_RANGE.get(category["kind"], (Decimal(0), Decimal(0)))
        if not low <= adjustments.sme_discount_pct <= high:
            add(
                "sme_discount_out_of_range",
                "财库〔2022〕19号",
                f"{category['name']}小微企业价格扣除比例应为{low}%–{high}%",
            )
    if adjustments.innovation_discount_pct is not None and adjustments.innovation_discount_pct != INNOVATION_DISCOUNT:
        add(
            "innovation_discount_must_be_10",
            "晋城市营商环境创新提升行动方案 第2项",
            "《山西省创新产品和服务推荐清单》内产品享受10%的价格折扣",
        )
