"""条例 第二十一条 and 第二十二条 on their boundaries, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.trading.notices import rules
from shared.errors import Unprocessable

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def test_clarification_15_days_ahead_keeps_the_deadline():
    deadline = NOW + timedelta(days=15)
    assert rules.deadline_after_clarification(issued_at=NOW, bid_deadline=deadline, requested=None) == deadline


def test_clarification_closer_than_15_days_needs_a_move():
    deadline = NOW + timedelta(days=15) - timedelta(seconds=1)
    with pytest.raises(Unprocessable) as refused:
        rules.deadline_after_clarification(issued_at=NOW, bid_deadline=deadline, requested=None)
    assert refused.value.code == "clarification_requires_deadline_move"
    assert refused.value.details["basis"] == "招标投标法实施条例 第二十一条"
    assert refused.value.details["earliest_new_deadline"] == (NOW + timedelta(days=15)).isoformat()


def test_the_move_must_reach_15_days_after_issue():
    deadline = NOW + timedelta(days=5)
    earliest = NOW + timedelta(days=15)
    assert rules.deadline_after_clarification(issued_at=NOW, bid_deadline=deadline, requested=earliest) == earliest
    with pytest.raises(Unprocessable) as refused:
        rules.deadline_after_clarification(
            issued_at=NOW, bid_deadline=deadline, requested=earliest - timedelta(seconds=1)
        )
    assert refused.value.code == "clarification_requires_deadline_move"


def test_deadlines_only_move_later():
    deadline = NOW + timedelta(days=30)
    with pytest.raises(Unprocessable) as refused:
        rules.deadline_after_clarification(issued_at=NOW, bid_deadline=deadline, requested=deadline - timedelta(days=1))
    assert refused.value.code == "deadline_not_later"
    later = deadline + timedelta(days=2)
    assert rules.deadline_after_clarification(issued_at=NOW, bid_deadline=deadline, requested=later) == later


def test_objection_at_least_10_days_before_the_deadline():
    rules.check_objection_in_time(filed_at=NOW, bid_deadline=NOW + timedelta(days=10))
    with pytest.raises(Unprocessable) as refused:
        rules.check_objection_in_time(filed_at=NOW, bid_deadline=NOW + timedelta(days=10) - timedelta(seconds=1))
    assert refused.value.code == "objection_too_late"
    assert refused.value.details["basis"] == "招标投标法实施条例 第二十二条"


def test_reply_due_in_3_days():
    assert rules.reply_due(NOW) == NOW + timedelta(days=3)


def test_tender_status():
    ahead, past = NOW + timedelta(days=1), NOW - timedelta(days=1)
    assert rules.tender_status([("active", ahead), ("active", past)], NOW) == "open"
    assert rules.tender_status([("active", past)], NOW) == "closed"
    assert rules.tender_status([("active", NOW)], NOW) == "closed"
    assert rules.tender_status([("active", ahead), ("suspended", ahead)], NOW) == "suspended"
