"""A small, fixed holiday calendar for working-day tests (the National Day week of 2026)."""

from __future__ import annotations

import json
from pathlib import Path

from shared.workdays import WorkdayCalendar


def golden_week_calendar(directory: Path) -> WorkdayCalendar:
    """Holidays Thu 1 – Wed 7 Oct 2026 (weekend 3–4 Oct), make-up working day Sat 10 Oct."""
    path = directory / "calendar.json"
    path.write_text(
        json.dumps(
            {
                "years": {
                    "2026": {
                        "holidays": ["2026-10-01", "2026-10-02", "2026-10-05", "2026-10-06", "2026-10-07"],
                        "makeup_workdays": ["2026-10-10"],
                    }
                }
            }
        )
    )
    return WorkdayCalendar.from_file(path)
