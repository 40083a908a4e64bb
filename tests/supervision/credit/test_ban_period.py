"""Ban periods: last day inclusive, anniversaries (29 February too), and the GP 1–3 year rule."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from services.supervision.credit.ban_period import anniversary, check_government_procurement_ban, in_force
from shared.errors import Unprocessable


def test_the_last_day_of_a_ban_is_included_and_the_day_after_is_free():
    start, end = date(2026, 3, 1), date(2027, 2, 28)
    assert not in_force(start, end, start - timedelta(days=1))
    assert in_force(start, end, start)
    assert in_force(start, end, end)
    assert not in_force(start, end, end + timedelta(days=1))


def test_a_ban_without_end_never_lapses_and_no_ban_never_bans():
    assert in_force(date(2026, 3, 1), None, date(9999, 12, 31))
    assert not in_force(date(2026, 3, 1), None, date(2026, 2, 28))
    assert not in_force(None, None, date(2026, 3, 1))


@pytest.mark.parametrize(
    ("start", "years", "expected"),
    [
        (date(2026, 3, 1), 1, date(2027, 3, 1)),
        (date(2024, 2, 29), 1, date(2025, 2, 28)),  # no 29 February: the month's last day
        (date(2024, 2, 29), 4, date(2028, 2, 29)),
        (date(9997, 1, 1), 3, None),  # beyond the calendar
    ],
)
def test_anniversary(start, years, expected):
    assert anniversary(start, years) == expected


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (date(2026, 3, 1), date(2027, 2, 28)),  # exactly one year
        (date(2026, 3, 1), date(2029, 2, 28)),  # exactly three years
        (date(2026, 3, 1), date(2028, 3, 1)),
        (date(2024, 2, 29), date(2025, 2, 27)),  # one year from a leap day
        (date(9997, 1, 1), date(9999, 12, 31)),  # three years, ending on the calendar's last day
    ],
)
def test_government_procurement_bans_of_one_to_three_years_pass(start, end):
    check_government_procurement_ban(start, end)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (date(2026, 3, 1), date(2027, 2, 27)),  # 364 days
        (date(2026, 3, 1), date(2029, 3, 1)),  # three years and a day
        (date(2026, 3, 1), date(2026, 3, 1)),
        (date(2026, 3, 1), None),  # a GP ban must end
        (date(2024, 2, 29), date(2025, 2, 26)),
        (date(9999, 6, 1), date(9999, 12, 31)),  # cannot last a year within the calendar
    ],
)
def test_government_procurement_bans_outside_one_to_three_years_are_refused(start, end):
    with pytest.raises(Unprocessable) as refused:
        check_government_procurement_ban(start, end)
    assert refused.value.code == "gp_ban_period"
    assert refused.value.status_code == 422
    assert "第七十七条" in refused.value.message and "第七十八条" in refused.value.message
    assert refused.value.details["articles"] == ["政府采购法第七十七条", "政府采购法实施条例第七十八条"]
