"""Working-day arithmetic on the holiday calendar."""

from __future__ import annotations

import json
from datetime import date

import pytest

from shared.workdays import WorkdayCalendar, default_calendar
from tests.support.calendars import golden_week_calendar


@pytest.fixture
def calendar(tmp_path):
    return golden_week_calendar(tmp_path)


def test_weekends_rest_and_weekdays_work(calendar):
    assert calendar.is_workday(date(2026, 11, 30))  # Monday
    assert not calendar.is_workday(date(2026, 11, 29))  # Sunday


def test_holidays_rest_even_on_weekdays_and_makeup_days_work_on_weekends(calendar):
    assert not calendar.is_workday(date(2026, 10, 5))  # Monday, National Day week
    assert calendar.is_workday(date(2026, 10, 10))  # Saturday, 调休上班


def test_add_workdays_skips_the_golden_week(calendar):
    # Five working days after Wed 30 Sep: Thu 1 .. Wed 7 are rest days, then Thu 8, Fri 9, Sat 10
    # (make-up), Mon 12, Tue 13.
    assert calendar.add_workdays(date(2026, 9, 30), 5) == date(2026, 10, 13)
    assert calendar.add_workdays(date(2026, 11, 27), 1) == date(2026, 11, 30)  # Friday -> Monday
    assert calendar.add_workdays(date(2026, 11, 27), 0) == date(2026, 11, 27)
    with pytest.raises(ValueError):
        calendar.add_workdays(date(2026, 11, 27), -1)


def test_workdays_between(calendar):
    assert calendar.workdays_between(date(2026, 9, 30), date(2026, 10, 13)) == 5
    assert calendar.workdays_between(date(2026, 10, 13), date(2026, 9, 30)) == 0


def test_contradictory_calendar_is_refused(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"years": {"2026": {"holidays": ["2026-10-10"], "makeup_workdays": ["2026-10-10"]}}}))
    with pytest.raises(ValueError, match="both"):
        WorkdayCalendar.from_file(path)


def test_shipped_calendar_loads_and_says_what_it_covers():
    calendar = default_calendar()
    assert calendar.covers(date(2026, 5, 1)) and not calendar.covers(date(2031, 5, 1))
    assert not calendar.is_workday(date(2026, 10, 1))
