"""Working-day arithmetic (工作日) on a holiday calendar kept as data.

Government-procurement periods are counted in working days (5 working days of tender documents on
offer, 7 working days to challenge, 15 to complain, 3 to accept, 30 to decide). Weekends are rest
days except the make-up working days (调休上班) the State Council announces; listed holidays are rest
days even on weekdays. A year missing from the calendar falls back to plain Monday–Friday, and
``covers()`` lets callers say so to users instead of pretending to know.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

DEFAULT_CALENDAR = Path(__file__).parent / "data" / "workday_calendar_cn.json"


@dataclass(frozen=True)
class WorkdayCalendar:
    holidays: frozenset[date]
    makeup_workdays: frozenset[date]
    years: frozenset[int]

    @classmethod
    def from_file(cls, path: Path) -> WorkdayCalendar:
        data = json.loads(path.read_text(encoding="utf-8"))
        holidays: set[date] = set()
        makeup: set[date] = set()
        for year in data["years"].values():
            holidays.update(date.fromisoformat(d) for d in year["holidays"])
            makeup.update(date.fromisoformat(d) for d in year["makeup_workdays"])
        if holidays & makeup:
            raise ValueError(f"calendar lists days as both holiday and working day: {sorted(holidays & makeup)}")
        return cls(frozenset(holidays), frozenset(makeup), frozenset(int(y) for y in data["years"]))

    def covers(self, day: date) -> bool:
        return day.year in self.years

    def is_workday(self, day: date) -> bool:
        if day in self.makeup_workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5

    def add_workdays(self, start: date, count: int) -> date:
        """The date ``count`` working days after ``start`` (``start`` itself not counted)."""
        if count < 0:
            raise ValueError("count must be >= 0")
        day = start
        while count:
            day += timedelta(days=1)
            if self.is_workday(day):
                count -= 1
        return day

    def workdays_between(self, start: date, end: date) -> int:
        """Working days in (start, end]: how many have passed from ``start`` to ``end``."""
        if end <= start:
            return 0
        return sum(1 for n in range(1, (end - start).days + 1) if self.is_workday(start + timedelta(days=n)))


@lru_cache(maxsize=4)
def _load(path: str) -> WorkdayCalendar:
    return WorkdayCalendar.from_file(Path(path))


def default_calendar() -> WorkdayCalendar:
    return _load(os.environ.get("WORKDAY_CALENDAR_FILE") or str(DEFAULT_CALENDAR))
