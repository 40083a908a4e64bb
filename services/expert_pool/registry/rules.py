"""Who may enter the expert database (入库条件).

招标投标法 第三十七条: evaluation experts must have worked in the relevant field for eight years
and hold a senior professional title (高级职称) or an equivalent professional standard. Both
正高级 (``senior``) and 副高级 (``associate_senior``) titles are 高级职称. Set by law, so constants
rather than settings.
"""

from __future__ import annotations

MIN_YEARS_EXPERIENCE = 8
SENIOR_TITLE_LEVELS = ("senior", "associate_senior")
ENTRY_RULE_BASIS = "招标投标法 第三十七条"


def entry_rule_failures(title_level: str, years_experience: int) -> list[str]:
    """The rules an expert fails, by the field that fails them; empty when they qualify."""
    failed = []
    if years_experience < MIN_YEARS_EXPERIENCE:
        failed.append("years_experience")
    if title_level not in SENIOR_TITLE_LEVELS:
        failed.append("title_level")
    return failed
