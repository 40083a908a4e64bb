"""Ban periods: what "in force on a date" means, and the government-procurement 1–3 year rule.

A ban runs from its first day to its last day, both included: a one-year ban from 2026-03-01 has
2027-02-28 as its last day, and the subject may take part again on 2027-03-01 (the anniversary).
A ban starting on 29 February has its anniversary on 28 February in common years; PostgreSQL's
``date + interval '1 year'`` counts the same way, so the table's check constraint agrees with this.
"""

from __future__ import annotations

from datetime import date, timedelta

from shared.errors import Unprocessable

GP_MIN_YEARS = 1
GP_MAX_YEARS = 3
GP_ARTICLES = ("政府采购法第七十七条", "政府采购法实施条例第七十八条")


def anniversary(start: date, years: int) -> date | None:
    """``start`` plus whole years, or None when that lies beyond the calendar (year 9999)."""
    year = start.year + years
    if year > date.max.year:
        return None
    try:
        return start.replace(year=year)
    except ValueError:  # 29 February in a common year
        return date(year, 2, 28)


def in_force(ban_start: date | None, ban_end: date | None, day: date) -> bool:
    """Whether a ban covers ``day``; ``ban_end`` is the last day of the ban, None for no end."""
    if ban_start is None or day < ban_start:
        return False
    return ban_end is None or day <= ban_end


def check_government_procurement_ban(ban_start: date, ban_end: date | None) -> None:
    """Refuse a GP ban shorter than one year or longer than three (政府采购法 Art. 77; 条例 Art. 78).

    The ban is measured from its first day to the day after its last: exactly one year (last day
    the eve of the first anniversary) and exactly three years are allowed; a day less or a day more
    is not. A GP ban must end.
    """
    shortest_last_day = _eve(anniversary(ban_start, GP_MIN_YEARS))
    longest_last_day = _eve(anniversary(ban_start, GP_MAX_YEARS))
    too_short = ban_end is not None and (shortest_last_day is None or ban_end < shortest_last_day)
    too_long = ban_end is None or (longest_last_day is not None and ban_end > longest_last_day)
    if too_short or too_long:
        raise Unprocessable(
            "政府采购供应商的禁止参加政府采购活动期限应为一年以上三年以下"
            "（《政府采购法》第七十七条、《政府采购法实施条例》第七十八条）",
            code="gp_ban_period",
            details={
                "min_years": GP_MIN_YEARS,
                "max_years": GP_MAX_YEARS,
                "shortest_last_day": shortest_last_day.isoformat() if shortest_last_day else None,
                "longest_last_day": longest_last_day.isoformat() if longest_last_day else None,
                "articles": list(GP_ARTICLES),
            },
        )


def _eve(day: date | None) -> date | None:
    return None if day is None else day - timedelta(days=1)
