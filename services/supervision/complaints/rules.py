"""When a complaint may be filed and when the supervisor must answer, as pure functions.

Bidding law (招标投标法实施条例):
- Art. 60: complain within 10 days of knowing. For the tender documents (Art. 22), the opening
  (Art. 44) and the evaluation result (Art. 54) an objection to the tenderee comes first, and the
  time the objection waits for its answer does not count towards the 10 days.
- Art. 61: decide within 3 working days whether to accept, and within 30 working days of accepting.

Government procurement (政府采购法):
- Art. 52: a challenge (质疑) within 7 working days of knowing; Art. 53: answered within 7 working
  days; Art. 55: a complaint within 15 working days after the answer (or after the answer was due);
  Art. 56: decided within 30 working days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from shared.workdays import WorkdayCalendar

OBJECTION_FIRST = frozenset({"tender_documents", "opening", "evaluation_result"})
BIDDING_LAW_DAYS = 10
OBJECTION_REPLY_DAYS = 3  # 条例 Arts. 22 and 54: the tenderee answers within 3 days
GP_CHALLENGE_WORKDAYS = 7
GP_REPLY_WORKDAYS = 7
GP_COMPLAINT_WORKDAYS = 15
ACCEPT_WORKDAYS = 3
DECIDE_WORKDAYS = 30


@dataclass(frozen=True)
class Filing:
    law: str
    matter: str
    knew_on: date
    filed_on: date
    objection_filed_on: date | None = None
    objection_replied_on: date | None = None


@dataclass(frozen=True)
class Violation:
    rule: str
    basis: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "basis": self.basis, "message": self.message}


def check_filing(filing: Filing, calendar: WorkdayCalendar) -> list[Violation]:
    dates = _check_dates(filing)
    if dates:
        return dates
    if filing.law == "government_procurement":
        return _check_government_procurement(filing, calendar)
    return _check_bidding_law(filing)


def _check_dates(f: Filing) -> list[Violation]:
    ordered = [d for d in (f.knew_on, f.objection_filed_on, f.objection_replied_on, f.filed_on) if d is not None]
    if ordered != sorted(ordered) or (f.objection_replied_on is not None and f.objection_filed_on is None):
        return [Violation("dates_inconsistent", "—", "日期顺序应为：知道之日 ≤ 提出异议/质疑 ≤ 答复 ≤ 投诉之日")]
    return []


def _check_bidding_law(f: Filing) -> list[Violation]:
    found: list[Violation] = []
    excluded = timedelta(0)
    if f.matter in OBJECTION_FIRST:
        if f.objection_filed_on is None:
            return [
                Violation(
                    "objection_required",
                    "招标投标法实施条例 第六十条第二款",
                    "就招标文件、开标或评标结果投诉的，应当先向招标人提出异议",
                )
            ]
        answered = f.objection_replied_on
        reply_due = f.objection_filed_on + timedelta(days=OBJECTION_REPLY_DAYS)
        if answered is None and f.filed_on <= reply_due:
            return [
                Violation(
                    "objection_pending",
                    "招标投标法实施条例 第二十二条、第五十四条",
                    "异议尚在答复期内，答复后或答复期满后方可投诉",
                )
            ]
        excluded = (answered or reply_due) - f.objection_filed_on
    if (f.filed_on - f.knew_on) - excluded > timedelta(days=BIDDING_LAW_DAYS):
        found.append(
            Violation(
                "complaint_too_late",
                "招标投标法实施条例 第六十条",
                "应当自知道或者应当知道之日起10日内投诉（异议答复期间不计算在内）",
            )
        )
    return found


def _check_government_procurement(f: Filing, calendar: WorkdayCalendar) -> list[Violation]:
    if f.objection_filed_on is None:
        return [
            Violation("challenge_required", "政府采购法 第五十五条", "政府采购投诉应当先向采购人或代理机构提出质疑")
        ]
    if calendar.workdays_between(f.knew_on, f.objection_filed_on) > GP_CHALLENGE_WORKDAYS:
        return [Violation("challenge_too_late", "政府采购法 第五十二条", "质疑应当在知道之日起7个工作日内提出")]
    if f.objection_replied_on is not None:
        window_start = f.objection_replied_on
    else:
        window_start = calendar.add_workdays(f.objection_filed_on, GP_REPLY_WORKDAYS)
        if f.filed_on <= window_start:
            return [
                Violation(
                    "challenge_reply_pending",
                    "政府采购法 第五十三条",
                    "质疑尚在7个工作日答复期内，答复后或答复期满后方可投诉",
                )
            ]
    if f.filed_on > calendar.add_workdays(window_start, GP_COMPLAINT_WORKDAYS):
        return [Violation("complaint_too_late", "政府采购法 第五十五条", "应当在答复期满后15个工作日内投诉")]
    return []


def accept_due(filed_on: date, calendar: WorkdayCalendar) -> date:
    """条例 Art. 61: whether to accept is decided within 3 working days of receipt."""
    return calendar.add_workdays(filed_on, ACCEPT_WORKDAYS)


def decide_due(accepted_on: date, calendar: WorkdayCalendar) -> date:
    """条例 Art. 61; 政府采购法 Art. 56: decided within 30 working days of acceptance."""
    return calendar.add_workdays(accepted_on, DECIDE_WORKDAYS)
