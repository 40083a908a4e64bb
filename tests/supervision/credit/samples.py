"""Sample subjects and record bodies for the credit tests."""

from __future__ import annotations

import uuid
from typing import Any

from shared.credit_code import make_credit_code


def org_code(n: int) -> str:
    """A valid 统一社会信用代码, different for each ``n``."""
    return make_credit_code(f"9114058{n:010d}")


ORG = org_code(1)
OTHER_ORG = org_code(2)
EXPERT = str(uuid.UUID("6f1c2d3e-4b5a-4c6d-8e7f-901234567890"))


def record_body(**overrides: Any) -> dict[str, Any]:
    """A GP decision banning ``ORG`` for exactly one year from 2026-03-01 (last day 2027-02-28)."""
    return {
        "subject_kind": "organisation",
        "subject_id": ORG,
        "subject_name": "晋城市某建设工程有限公司",
        "law": "government_procurement",
        "act": "提供虚假材料谋取中标",
        "legal_basis": "《政府采购法》第七十七条第一款第（一）项",
        "decision": "处以采购金额千分之五的罚款，列入不良行为记录名单，一年内禁止参加政府采购活动",
        "decision_number": "晋市财购处〔2026〕12号",
        "department": "晋城市财政局",
        "decided_on": "2026-02-20",
        "ban_start": "2026-03-01",
        "ban_end": "2027-02-28",
        **overrides,
    }
