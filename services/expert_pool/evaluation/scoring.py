"""The arithmetic of an evaluation (评标计算), without a database: parse the lot's method, check a
member's score sheet, compute evaluation prices and price scores, aggregate the committee's
sheets, rank the bids and mark deviating scores.

Rules (docs/evaluation.md has the worked example):

- Exact arithmetic. Intermediate values are :class:`fractions.Fraction` (exact rationals), never
  float; every figure the report shows is rounded once, half up (``ROUND_HALF_UP``): scores to
  two decimal places, evaluation prices to whole fen.
- Evaluation price (评审价格). Under government procurement the lot's policy deductions apply to the
  *evaluation* price only, never the contract price: a small/micro enterprise (bid form extra
  ``sme: true``) gets ``sme_discount_pct``, a product of the Shanxi innovation list (extra
  ``innovation_product: true``) ``innovation_discount_pct``. A bid qualifying for both gets both,
  one after the other (``price × (1 − a) × (1 − b)``: the same result in either order, and never
  negative). Other laws take no deductions: a lot under them that declares some is refused.
- Price score (价格分), 87号令 第五十五条: ``lowest compliant evaluation price ÷ this bid's evaluation
  price × price weight``. Compliant means not rejected (否决); the highest and lowest prices are not
  dropped. Bidding-law lots use the same formula (低价优先); a lot whose evaluation names another
  ``price_formula`` is refused rather than scored by a rule we do not implement.
- A member's total for a bid = the member's subjective points (each criterion within
  ``[0, weight]``) + the price score; the bid's score = the mean over all members, no score
  dropped. Ranking: score high to low; equal scores go to the lower quoted price (第五十七条); then
  the lower evaluation price; then the bidder's credit code, so the order is reproducible. Bids
  that still tie after the quoted price are flagged ``tied_with_previous`` (the law's 并列).
- Lowest evaluated price: evaluation price low to high, then the same tiebreaks.
- Deviation: a member's total deviating from the committee's exact mean by more than the threshold.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction
from typing import Any, Literal

SCORE_PLACES = Decimal("0.01")
ROUNDING = ROUND_HALF_UP
MAX_CANDIDATES = 3
PRICE_FORMULA = "lowest_ratio"  # 低价优先法: lowest ÷ price × weight
GP = "government_procurement"

CriterionKind = Literal["price", "technical", "commercial"]


class ScoringError(ValueError):
    """The inputs cannot be scored as they stand; ``code`` is the API's error code."""

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


# -- the lot's method ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Criterion:
    code: str
    name: str
    kind: CriterionKind
    # weight_pct of the lot: the criterion's maximum points.
    max_points: Decimal


@dataclass(frozen=True)
class ComprehensiveScoring:
    criteria: tuple[Criterion, ...]
    method: Literal["comprehensive_scoring"] = "comprehensive_scoring"

    @property
    def price(self) -> Criterion:
        return next(c for c in self.criteria if c.kind == "price")

    @property
    def subjective(self) -> tuple[Criterion, ...]:
        """What members score themselves: every criterion but the price."""
        return tuple(c for c in self.criteria if c.kind != "price")


@dataclass(frozen=True)
class LowestEvaluatedPrice:
    method: Literal["lowest_evaluated_price"] = "lowest_evaluated_price"

    @property
    def subjective(self) -> tuple[Criterion, ...]:
        return ()


Method = ComprehensiveScoring | LowestEvaluatedPrice


def to_decimal(value: Any, *, what: str) -> Decimal:
    """A JSON number or string as an exact Decimal. Floats (what a JSON parser makes of ``30.5``)
    go through their shortest repr, which is the decimal text they were parsed from."""
    if isinstance(value, bool):
        raise ScoringError("invalid_evaluation_method", f"{what} 不是数值")
    try:
        if isinstance(value, float):
            result = Decimal(repr(value))
        elif isinstance(value, int | str | Decimal):
            result = Decimal(value)
        else:
            raise ScoringError("invalid_evaluation_method", f"{what} 不是数值")
    except InvalidOperation:
        raise ScoringError("invalid_evaluation_method", f"{what} 不是数值") from None
    if not result.is_finite():
        raise ScoringError("invalid_evaluation_method", f"{what} 不是有限数值")
    return result


def parse_method(evaluation: Mapping[str, Any]) -> Method:
    """The lot's evaluation JSON (trading's ``ComprehensiveScoring`` / ``LowestEvaluatedPrice``)."""
    method = evaluation.get("method")
    if method == "lowest_evaluated_price":
        return LowestEvaluatedPrice()
    if method != "comprehensive_scoring":
        raise ScoringError("invalid_evaluation_method", "不支持的评标方法", {"method": method})
    formula = evaluation.get("price_formula", PRICE_FORMULA)
    if formula != PRICE_FORMULA:
        raise ScoringError("unsupported_price_formula", "标段声明的价格分计算方法不受支持", {"price_formula": formula})
    raw = evaluation.get("criteria")
    if not isinstance(raw, list) or not raw:
        raise ScoringError("invalid_evaluation_method", "综合评分法缺少评分因素")
    criteria: list[Criterion] = []
    for item in raw:
        if not isinstance(item, Mapping):
            raise ScoringError("invalid_evaluation_method", "评分因素格式错误")
        code, name, kind = item.get("code"), item.get("name"), item.get("kind")
        if not isinstance(code, str) or not isinstance(name, str) or kind not in ("price", "technical", "commercial"):
            raise ScoringError("invalid_evaluation_method", "评分因素格式错误", {"criterion": code})
        weight = to_decimal(item.get("weight_pct"), what=f"评分因素 {code} 的分值")
        if weight <= 0 or weight > 100:
            raise ScoringError("invalid_evaluation_method", "评分因素分值应在 0–100 之间", {"criterion": code})
        criteria.append(Criterion(code=code, name=name, kind=kind, max_points=weight))
    codes = [c.code for c in criteria]
    if len(set(codes)) != len(codes):
        raise ScoringError("invalid_evaluation_method", "评分因素代码重复")
    if sum(1 for c in criteria if c.kind == "price") != 1:
        raise ScoringError("invalid_evaluation_method", "综合评分法须有且仅有一个价格因素")
    if sum(c.max_points for c in criteria) != 100:
        raise ScoringError("invalid_evaluation_method", "评分因素分值之和须为 100")
    return ComprehensiveScoring(criteria=tuple(criteria))


# -- evaluation prices ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PriceAdjustments:
    sme_pct: Decimal | None = None
    innovation_pct: Decimal | None = None

    @property
    def empty(self) -> bool:
        return self.sme_pct is None and self.innovation_pct is None


def parse_adjustments(raw: Mapping[str, Any] | None, law: str) -> PriceAdjustments:
    """The lot's ``price_adjustments``; deductions exist only in government procurement."""
    if not raw:
        return PriceAdjustments()
    values: dict[str, Decimal | None] = {}
    for key, name in (("sme_discount_pct", "sme_pct"), ("innovation_discount_pct", "innovation_pct")):
        value = raw.get(key)
        if value is None:
            values[name] = None
            continue
        pct = to_decimal(value, what=key)
        if pct <= 0 or pct >= 100:
            raise ScoringError("invalid_evaluation_method", "价格扣除比例应在 0–100 之间", {key: str(pct)})
        values[name] = pct
    adjustments = PriceAdjustments(**values)
    if not adjustments.empty and law != GP:
        raise ScoringError("invalid_evaluation_method", "价格扣除仅适用于政府采购项目", {"law": law})
    return adjustments


@dataclass(frozen=True)
class Bid:
    bid_id: str
    bidder_credit_code: str
    price_fen: int
    sme: bool = False
    innovation_product: bool = False


def bid_from_form(bid_id: str, bidder_credit_code: str, price_fen: int, extra: Mapping[str, Any] | None) -> Bid:
    """Policy flags count only when the bid form says exactly ``true`` (not "yes", not 1)."""
    extra = extra or {}
    return Bid(
        bid_id=bid_id,
        bidder_credit_code=bidder_credit_code,
        price_fen=price_fen,
        sme=extra.get("sme") is True,
        innovation_product=extra.get("innovation_product") is True,
    )


def round_fraction(value: Fraction, places: Decimal = SCORE_PLACES) -> Decimal:
    """Exact value → Decimal rounded half up to ``places`` (0.01, or 1 for whole fen)."""
    scale = Fraction(1) / Fraction(places)  # 100 for 0.01
    scaled = value * scale
    sign = -1 if scaled < 0 else 1
    magnitude = abs(scaled)
    whole, remainder = divmod(magnitude.numerator, magnitude.denominator)
    if 2 * remainder >= magnitude.denominator:  # half up, away from zero
        whole += 1
    return (Decimal(sign * whole) * places).quantize(places)


def evaluation_price_fen(bid: Bid, adjustments: PriceAdjustments) -> int:
    """The price the committee compares (whole fen, half up); the contract price stays ``price_fen``."""
    price = Fraction(bid.price_fen)
    if bid.sme and adjustments.sme_pct is not None:
        price *= 1 - Fraction(adjustments.sme_pct) / 100
    if bid.innovation_product and adjustments.innovation_pct is not None:
        price *= 1 - Fraction(adjustments.innovation_pct) / 100
    return int(round_fraction(price, Decimal(1)))


def price_scores(
    evaluation_prices: Mapping[str, int], compliant: Sequence[str], price_weight: Decimal
) -> dict[str, Decimal]:
    """87号令 第五十五条 for each compliant bid: lowest ÷ own evaluation price × weight, 2 places half up."""
    if not compliant:
        return {}
    lowest = min(evaluation_prices[b] for b in compliant)
    zero = sorted(b for b in compliant if evaluation_prices[b] <= 0)
    if zero:
        raise ScoringError(
            "zero_evaluation_price", "评审价格为零的投标无法按低价优先法计分，须由评标委员会认定处理", {"bids": zero}
        )
    weight = Fraction(price_weight)
    return {b: round_fraction(Fraction(lowest, evaluation_prices[b]) * weight) for b in compliant}


# -- score sheets -------------------------------------------------------------------------------

# (bid id, criterion code) -> points
SheetScores = Mapping[tuple[str, str], Decimal]


def check_points(points: Decimal, criterion: Criterion) -> str | None:
    """Why ``points`` is not a valid entry for ``criterion``, or None."""
    if not points.is_finite():
        return "not_a_number"
    exponent = points.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        return "more_than_two_decimals"
    if points < 0 or points > criterion.max_points:
        return "out_of_range"
    return None


def check_sheet(method: Method, bid_ids: Sequence[str], scores: SheetScores) -> list[dict[str, Any]]:
    """Every problem of a sheet: each listed bid needs one entry per subjective criterion within
    ``[0, weight]`` with at most two decimals, and nothing else. Empty list: the sheet is valid."""
    criteria = {c.code: c for c in method.subjective}
    problems: list[dict[str, Any]] = []
    bids = set(bid_ids)
    for (bid, code), points in sorted(scores.items()):
        if bid not in bids:
            problems.append({"bid_id": bid, "criterion": code, "problem": "unknown_or_rejected_bid"})
        elif code not in criteria:
            problems.append({"bid_id": bid, "criterion": code, "problem": "not_a_subjective_criterion"})
        else:
            problem = check_points(points, criteria[code])
            if problem:
                problems.append({"bid_id": bid, "criterion": code, "problem": problem})
    for bid in sorted(bids):
        for code in criteria:
            if (bid, code) not in scores:
                problems.append({"bid_id": bid, "criterion": code, "problem": "missing"})
    return problems


# -- aggregation --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deviation:
    member: str
    bid_id: str
    member_total: Decimal
    committee_mean: Decimal
    deviation: Decimal


@dataclass(frozen=True)
class BidResult:
    bid_id: str
    bidder_credit_code: str
    price_fen: int
    evaluation_price_fen: int
    price_score: Decimal | None
    member_totals: dict[str, Decimal]
    score: Decimal | None
    rank: int
    tied_with_previous: bool


@dataclass(frozen=True)
class Outcome:
    method: str
    ranked: list[BidResult]
    rejected: list[str]
    deviations: list[Deviation] = field(default_factory=list)

    @property
    def candidates(self) -> list[BidResult]:
        return self.ranked[:MAX_CANDIDATES]


def _ranked(
    ordered: list[str],
    by_id: Mapping[str, Bid],
    eval_prices: Mapping[str, int],
    *,
    tie: Callable[[str], tuple[Any, ...]],
    scores: Callable[[str], tuple[Decimal | None, dict[str, Decimal], Decimal | None]],
) -> list[BidResult]:
    """``ordered`` as results, ranked 1, 2, …; a bid ties with the one before when ``tie`` gives
    both the same; ``scores`` gives its price score, members' totals and score."""
    results = []
    for i, b in enumerate(ordered):
        price_score, member_totals, score = scores(b)
        results.append(
            BidResult(
                bid_id=b,
                bidder_credit_code=by_id[b].bidder_credit_code,
                price_fen=by_id[b].price_fen,
                evaluation_price_fen=eval_prices[b],
                price_score=price_score,
                member_totals=member_totals,
                score=score,
                rank=i + 1,
                tied_with_previous=i > 0 and tie(b) == tie(ordered[i - 1]),
            )
        )
    return results


def aggregate(
    method: Method,
    bids: Sequence[Bid],
    rejected: Sequence[str],
    adjustments: PriceAdjustments,
    sheets: Mapping[str, SheetScores],
    deviation_threshold: Decimal,
) -> Outcome:
    """Score and rank the compliant bids from the members' sheets (member id → scores)."""
    by_id = {b.bid_id: b for b in bids}
    unknown = sorted(set(rejected) - set(by_id))
    if unknown:
        raise ScoringError("unknown_bid", "被否决的投标不在开标结果中", {"bid_id": unknown[0]})
    compliant = [b.bid_id for b in bids if b.bid_id not in set(rejected)]
    eval_prices = {b.bid_id: evaluation_price_fen(b, adjustments) for b in bids}
    if isinstance(method, LowestEvaluatedPrice):
        ordered = sorted(compliant, key=lambda b: (eval_prices[b], by_id[b].price_fen, by_id[b].bidder_credit_code, b))
        ranked = _ranked(
            ordered,
            by_id,
            eval_prices,
            tie=lambda b: (eval_prices[b], by_id[b].price_fen),
            scores=lambda b: (None, {}, None),
        )
        return Outcome(method=method.method, ranked=ranked, rejected=sorted(rejected))

    if not sheets:
        raise ScoringError("sheet_incomplete", "没有评分表")
    for member, scores in sheets.items():
        missing = [p for p in check_sheet(method, compliant, scores) if p["problem"] == "missing"]
        if missing:
            raise ScoringError("sheet_incomplete", "评分表缺少评分项", {"member": member, "problems": missing})
    prices = price_scores(eval_prices, compliant, method.price.max_points)
    threshold = Fraction(deviation_threshold)
    members = sorted(sheets)
    totals: dict[str, dict[str, Fraction]] = {}
    deviations: list[Deviation] = []
    for b in compliant:
        member_totals = {
            m: sum((Fraction(sheets[m][(b, c.code)]) for c in method.subjective), Fraction(0)) + Fraction(prices[b])
            for m in members
        }
        totals[b] = member_totals
        mean = sum(member_totals.values(), Fraction(0)) / len(members)
        for m in members:
            gap = abs(member_totals[m] - mean)
            if gap > threshold:
                deviations.append(
                    Deviation(
                        member=m,
                        bid_id=b,
                        member_total=round_fraction(member_totals[m]),
                        committee_mean=round_fraction(mean),
                        deviation=round_fraction(gap),
                    )
                )
    bid_scores = {b: round_fraction(sum(totals[b].values(), Fraction(0)) / len(members)) for b in compliant}
    # Ranked by the published (rounded) score, so the order can be checked from the report's figures.
    ordered = sorted(
        compliant,
        key=lambda b: (-bid_scores[b], by_id[b].price_fen, eval_prices[b], by_id[b].bidder_credit_code, b),
    )
    ranked = _ranked(
        ordered,
        by_id,
        eval_prices,
        tie=lambda b: (bid_scores[b], by_id[b].price_fen),
        scores=lambda b: (prices[b], {m: round_fraction(t) for m, t in totals[b].items()}, bid_scores[b]),
    )
    deviations.sort(key=lambda d: (d.bid_id, d.member))
    return Outcome(method=method.method, ranked=ranked, rejected=sorted(rejected), deviations=deviations)
