"""Complaint filing limits and answer deadlines on their boundaries (domain.md §2)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from services.supervision.complaints.rules import Filing, accept_due, check_filing, decide_due
from shared.workdays import WorkdayCalendar
from tests.support.calendars import golden_week_calendar


@pytest.fixture
def calendar(tmp_path):
    return golden_week_calendar(tmp_path)


def rules(filing: Filing, calendar: WorkdayCalendar) -> set[str]:
    return {v.rule for v in check_filing(filing, calendar)}


KNEW = date(2026, 11, 2)  # a Monday


def test_bidding_law_10_days_article_60(calendar):
    """招标投标法实施条例 第六十条: within 10 days of knowing."""
    assert rules(Filing("bidding_law", "other", KNEW, KNEW + timedelta(days=10)), calendar) == set()
    assert rules(Filing("bidding_law", "other", KNEW, KNEW + timedelta(days=11)), calendar) == {"complaint_too_late"}


def test_objection_first_and_its_reply_time_excluded_article_60(calendar):
    """条例 第六十条第二款: objection first for documents, opening and results; its wait is excluded."""
    assert rules(Filing("bidding_law", "tender_documents", KNEW, KNEW + timedelta(days=3)), calendar) == {
        "objection_required"
    }
    # Objected on day 2, answered on day 5: 3 days excluded, so day 13 is the last day.
    objected, replied = KNEW + timedelta(days=2), KNEW + timedelta(days=5)
    assert (
        rules(Filing("bidding_law", "opening", KNEW, KNEW + timedelta(days=13), objected, replied), calendar) == set()
    )
    assert rules(Filing("bidding_law", "opening", KNEW, KNEW + timedelta(days=14), objected, replied), calendar) == {
        "complaint_too_late"
    }
    unanswered = Filing("bidding_law", "evaluation_result", KNEW, objected + timedelta(days=3), objected)
    assert rules(unanswered, calendar) == {"objection_pending"}
    assert (
        rules(Filing("bidding_law", "evaluation_result", KNEW, objected + timedelta(days=4), objected), calendar)
        == set()
    )


def test_gp_challenge_within_7_working_days_article_52(calendar):
    """政府采购法 第五十二条: a challenge within 7 working days of knowing."""
    assert rules(Filing("government_procurement", "other", KNEW, KNEW + timedelta(days=3)), calendar) == {
        "challenge_required"
    }
    seventh = calendar.add_workdays(KNEW, 7)
    ok = Filing("government_procurement", "other", KNEW, seventh + timedelta(days=1), seventh, seventh)
    assert rules(ok, calendar) == set()
    late = calendar.add_workdays(KNEW, 8)
    assert rules(Filing("government_procurement", "other", KNEW, late, late, late), calendar) == {"challenge_too_late"}


def test_gp_complaint_within_15_working_days_of_the_answer_article_55(calendar):
    """政府采购法 第五十五条 (after the answer) and 第五十三条 (answer due in 7 working days)."""
    challenged = KNEW + timedelta(days=1)
    replied = KNEW + timedelta(days=3)
    last = calendar.add_workdays(replied, 15)
    assert rules(Filing("government_procurement", "other", KNEW, last, challenged, replied), calendar) == set()
    after = last + timedelta(days=1)
    while not calendar.is_workday(after):
        after += timedelta(days=1)
    assert rules(Filing("government_procurement", "other", KNEW, after, challenged, replied), calendar) == {
        "complaint_too_late"
    }
    due = calendar.add_workdays(challenged, 7)
    assert rules(Filing("government_procurement", "other", KNEW, due, challenged), calendar) == {
        "challenge_reply_pending"
    }
    assert (
        rules(Filing("government_procurement", "other", KNEW, calendar.add_workdays(due, 15), challenged), calendar)
        == set()
    )


def test_gp_counting_skips_the_golden_week(calendar):
    knew = date(2026, 9, 29)  # Tuesday before National Day
    challenged = date(2026, 10, 12)  # 29 Sep -> 12 Oct: Wed 30, Thu 8, Fri 9, Sat 10 (调休), Mon 12 = 5 working days
    assert rules(Filing("government_procurement", "other", knew, challenged, challenged, challenged), calendar) == set()


def test_dates_must_be_in_order(calendar):
    assert rules(Filing("bidding_law", "other", KNEW, KNEW - timedelta(days=1)), calendar) == {"dates_inconsistent"}
    assert rules(Filing("bidding_law", "opening", KNEW, KNEW + timedelta(days=5), None, KNEW), calendar) == {
        "dates_inconsistent"
    }


def test_answer_deadlines_article_61(calendar):
    """条例 第六十一条: accept within 3 working days, decide within 30 working days of acceptance."""
    # Received Wed 30 Sep: Thu 8, Fri 9 and the make-up Saturday 10 Oct are the three working days.
    assert accept_due(date(2026, 9, 30), calendar) == date(2026, 10, 10)
    assert decide_due(date(2026, 11, 2), calendar) == date(2026, 12, 14)
