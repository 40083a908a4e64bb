"""The evaluation arithmetic: worked examples with hand-computed figures, the law's edge cases, and
property-style checks over many seeded random committees (no hypothesis in the toolchain; a fixed
seed per case keeps failures reproducible)."""

from __future__ import annotations

import random
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction
from typing import Any

import pytest

from services.expert_pool.evaluation.scoring import (
    MAX_CANDIDATES,
    Bid,
    ComprehensiveScoring,
    Criterion,
    LowestEvaluatedPrice,
    PriceAdjustments,
    ScoringError,
    aggregate,
    bid_from_form,
    check_sheet,
    evaluation_price_fen,
    parse_adjustments,
    parse_method,
    price_scores,
    round_fraction,
)

GP = "government_procurement"
EVALUATION: dict[str, Any] = {
    "method": "comprehensive_scoring",
    "criteria": [
        {"code": "price", "name": "价格", "kind": "price", "weight_pct": "30.00"},
        {"code": "tech", "name": "技术", "kind": "technical", "weight_pct": "50.00"},
        {"code": "comm", "name": "商务", "kind": "commercial", "weight_pct": 20},
    ],
}
_method = parse_method(EVALUATION)
assert isinstance(_method, ComprehensiveScoring)
METHOD: ComprehensiveScoring = _method


def _sheets(
    table: dict[str, tuple[list[Any], list[Any]]], members: int = 5
) -> dict[str, dict[tuple[str, str], Decimal]]:
    return {
        f"m{i + 1}": {
            (bid, code): Decimal(str(values[k][i]))
            for bid, values in table.items()
            for k, code in ((0, "tech"), (1, "comm"))
        }
        for i in range(members)
    }


# -- the worked example of docs/evaluation.md ----------------------------------------------------

WORKED_BIDS = [
    bid_from_form("A", "91140500000000000A", 100_000_000, {"sme": True}),
    bid_from_form("B", "91140500000000000B", 95_000_000, {}),
    bid_from_form("C", "91140500000000000C", 102_000_000, {"sme": True, "innovation_product": True}),
    bid_from_form("D", "91140500000000000D", 80_000_000, {}),
]
WORKED_SCORES: dict[str, tuple[list[Any], list[Any]]] = {
    "A": ([40, 42, 41, 39, 20], [15, 16, 15, 14, 10]),
    "B": ([42, 43, 44, 41, 42], [16, 17, 16, 15, 16]),
    "C": ([38, "37.5", 39, 38, 38], [14, 14, 15, "13.5", 14]),
}
WORKED_ADJUSTMENTS = parse_adjustments({"sme_discount_pct": "10.00", "innovation_discount_pct": "10.00"}, GP)


def test_worked_example_matches_the_hand_computation_in_the_docs():
    outcome = aggregate(METHOD, WORKED_BIDS, ["D"], WORKED_ADJUSTMENTS, _sheets(WORKED_SCORES), Decimal("10"))

    by_id = {r.bid_id: r for r in outcome.ranked}
    # Evaluation prices: A is an SME (−10 %), C an SME with an innovation-list product (−10 %, −10 %).
    assert {b: r.evaluation_price_fen for b, r in by_id.items()} == {"A": 90_000_000, "B": 95_000_000, "C": 82_620_000}
    # The contract price is untouched.
    assert {b: r.price_fen for b, r in by_id.items()} == {"A": 100_000_000, "B": 95_000_000, "C": 102_000_000}
    # D (80 万, the lowest quote) is rejected, so C's 82.62 万 is the benchmark: 30 × 8262/9000 = 27.54,
    # 30 × 8262/9500 = 26.0905… → 26.09.
    assert {b: r.price_score for b, r in by_id.items()} == {
        "A": Decimal("27.54"),
        "B": Decimal("26.09"),
        "C": Decimal("30.00"),
    }
    assert by_id["A"].member_totals == {
        "m1": Decimal("82.54"),
        "m2": Decimal("85.54"),
        "m3": Decimal("83.54"),
        "m4": Decimal("80.54"),
        "m5": Decimal("57.54"),
    }
    # Means over all five members, no score dropped: A (252/5 + 27.54), B (292/5 + 26.09), C (261/5 + 30).
    assert [(r.bid_id, r.score, r.rank) for r in outcome.ranked] == [
        ("B", Decimal("84.49"), 1),
        ("C", Decimal("82.20"), 2),
        ("A", Decimal("77.94"), 3),
    ]
    assert [c.bid_id for c in outcome.candidates] == ["B", "C", "A"]
    assert outcome.rejected == ["D"]
    # m5's 57.54 for A is 20.40 below the mean 77.94: beyond the 10-point threshold.
    [deviation] = outcome.deviations
    assert (deviation.member, deviation.bid_id) == ("m5", "A")
    assert (deviation.member_total, deviation.committee_mean, deviation.deviation) == (
        Decimal("57.54"),
        Decimal("77.94"),
        Decimal("20.40"),
    )


def test_without_the_rejection_the_lowest_quote_sets_the_benchmark():
    # D's sheet entries are needed once it is compliant.
    table = {**WORKED_SCORES, "D": ([30, 30, 30, 30, 30], [10, 10, 10, 10, 10])}
    outcome = aggregate(METHOD, WORKED_BIDS, [], WORKED_ADJUSTMENTS, _sheets(table), Decimal("10"))
    by_id = {r.bid_id: r for r in outcome.ranked}
    assert by_id["D"].price_score == Decimal("30.00")
    # 30 × 8000/8262 = 29.0486… → 29.05
    assert by_id["C"].price_score == Decimal("29.05")


def test_lowest_price_is_not_dropped_even_when_it_is_an_outlier():
    bids = [Bid("x", "c1", 1_000), Bid("y", "c2", 1_000_000), Bid("z", "c3", 1_100_000)]
    prices = price_scores({b.bid_id: b.price_fen for b in bids}, ["x", "y", "z"], Decimal("30"))
    # 87号令 第五十五条: no trimming of the highest or lowest quote; the far-out lowest is the benchmark.
    assert prices == {"x": Decimal("30.00"), "y": Decimal("0.03"), "z": Decimal("0.03")}


def test_extreme_member_scores_are_not_dropped():
    # Member m5's 10 pulls the mean down; a trimmed mean (dropping highest and lowest) would be 50.
    table = {"A": ([40, 40, 40, 40, 0], [10, 10, 10, 10, 10])}
    outcome = aggregate(METHOD, [Bid("A", "c", 100)], [], PriceAdjustments(), _sheets(table), Decimal("100"))
    assert outcome.ranked[0].score == Decimal("72.00")  # (4 × 50 + 10) / 5 + 30


# -- evaluation prices ----------------------------------------------------------------------------


def test_discounts_apply_only_to_flagged_bids_and_only_when_declared():
    sme_only = PriceAdjustments(sme_pct=Decimal("20"))
    assert evaluation_price_fen(Bid("a", "c", 1_000, sme=True), sme_only) == 800
    assert evaluation_price_fen(Bid("a", "c", 1_000, innovation_product=True), sme_only) == 1_000
    assert evaluation_price_fen(Bid("a", "c", 1_000, sme=True, innovation_product=True), PriceAdjustments()) == 1_000


def test_evaluation_price_rounds_half_up_to_whole_fen():
    adjustments = PriceAdjustments(sme_pct=Decimal("10"))
    assert evaluation_price_fen(Bid("a", "c", 5, sme=True), adjustments) == 5  # 4.5 → 5
    assert evaluation_price_fen(Bid("a", "c", 15, sme=True), adjustments) == 14  # 13.5 → 14 (half up, not even)
    assert evaluation_price_fen(Bid("a", "c", 14, sme=True), adjustments) == 13  # 12.6 → 13


def test_policy_flags_must_be_exactly_true():
    for value in ("true", 1, "yes", None, False):
        bid = bid_from_form("b", "c", 100, {"sme": value, "innovation_product": value})
        assert (bid.sme, bid.innovation_product) == (False, False)
    assert bid_from_form("b", "c", 100, None).sme is False


def test_adjustments_parse_and_are_refused_outside_government_procurement():
    assert parse_adjustments(None, "bidding_law") == PriceAdjustments()
    assert parse_adjustments({"sme_discount_pct": None}, "bidding_law") == PriceAdjustments()
    assert parse_adjustments({"sme_discount_pct": 12.5}, GP) == PriceAdjustments(sme_pct=Decimal("12.5"))
    with pytest.raises(ScoringError) as exc:
        parse_adjustments({"sme_discount_pct": "10"}, "bidding_law")
    assert exc.value.code == "invalid_evaluation_method"
    for bad in ("0", "100", "abc", True, [1]):
        with pytest.raises(ScoringError):
            parse_adjustments({"innovation_discount_pct": bad}, GP)


def test_zero_evaluation_price_is_refused_not_divided_by():
    with pytest.raises(ScoringError) as exc:
        price_scores({"a": 0, "b": 100}, ["a", "b"], Decimal("30"))
    assert exc.value.code == "zero_evaluation_price"
    assert exc.value.details == {"bids": ["a"]}
    # A rejected zero-price bid is no obstacle.
    assert price_scores({"a": 0, "b": 100}, ["b"], Decimal("30")) == {"b": Decimal("30.00")}


# -- the method -----------------------------------------------------------------------------------


def test_parse_method_reads_trading_lot_json():
    assert METHOD.price == Criterion("price", "价格", "price", Decimal("30.00"))
    assert [c.code for c in METHOD.subjective] == ["tech", "comm"]
    assert METHOD.subjective[1].max_points == Decimal("20")
    assert parse_method({"method": "lowest_evaluated_price"}) == LowestEvaluatedPrice()
    # Floats (what a JSON parser returns for 30.5) keep their decimal text.
    floaty = parse_method(
        {
            "method": "comprehensive_scoring",
            "criteria": [
                {"code": "p", "name": "价格", "kind": "price", "weight_pct": 30.1},
                {"code": "t", "name": "技术", "kind": "technical", "weight_pct": 69.9},
            ],
        }
    )
    assert isinstance(floaty, ComprehensiveScoring)
    assert floaty.price.max_points == Decimal("30.1")


@pytest.mark.parametrize(
    ("evaluation", "code"),
    [
        ({"method": "lottery"}, "invalid_evaluation_method"),
        ({"method": "comprehensive_scoring"}, "invalid_evaluation_method"),
        ({**EVALUATION, "price_formula": "average_benchmark"}, "unsupported_price_formula"),
        ({"method": "comprehensive_scoring", "criteria": EVALUATION["criteria"][1:]}, "invalid_evaluation_method"),
        ({"method": "comprehensive_scoring", "criteria": [*EVALUATION["criteria"][:2]]}, "invalid_evaluation_method"),
        (
            {"method": "comprehensive_scoring", "criteria": [*EVALUATION["criteria"], EVALUATION["criteria"][2]]},
            "invalid_evaluation_method",
        ),
        (
            {"method": "comprehensive_scoring", "criteria": [{**EVALUATION["criteria"][0], "weight_pct": "NaN"}]},
            "invalid_evaluation_method",
        ),
        ({"method": "comprehensive_scoring", "criteria": ["price"]}, "invalid_evaluation_method"),
    ],
)
def test_parse_method_refuses_what_it_cannot_score(evaluation, code):
    with pytest.raises(ScoringError) as exc:
        parse_method(evaluation)
    assert exc.value.code == code


# -- sheets ---------------------------------------------------------------------------------------


def test_check_sheet_lists_every_problem():
    scores = {
        ("A", "tech"): Decimal("50.00"),  # the maximum is allowed
        ("A", "comm"): Decimal("20.01"),  # above the weight
        ("B", "tech"): Decimal("-1"),
        ("B", "comm"): Decimal("1.005"),  # three decimals
        ("B", "price"): Decimal("30"),  # the system computes the price score
        ("Z", "tech"): Decimal("1"),  # not an opened (or a rejected) bid
    }
    problems = check_sheet(METHOD, ["A", "B", "C"], scores)
    assert problems == [
        {"bid_id": "A", "criterion": "comm", "problem": "out_of_range"},
        {"bid_id": "B", "criterion": "comm", "problem": "more_than_two_decimals"},
        {"bid_id": "B", "criterion": "price", "problem": "not_a_subjective_criterion"},
        {"bid_id": "B", "criterion": "tech", "problem": "out_of_range"},
        {"bid_id": "Z", "criterion": "tech", "problem": "unknown_or_rejected_bid"},
        {"bid_id": "C", "criterion": "tech", "problem": "missing"},
        {"bid_id": "C", "criterion": "comm", "problem": "missing"},
    ]
    assert check_sheet(METHOD, ["A"], {("A", "tech"): Decimal("0"), ("A", "comm"): Decimal("20")}) == []
    assert check_sheet(LowestEvaluatedPrice(), ["A"], {}) == []
    assert check_sheet(METHOD, ["A"], {("A", "tech"): Decimal("NaN"), ("A", "comm"): Decimal("1")})[0]["problem"] == (
        "not_a_number"
    )


def test_incomplete_sheet_is_refused_by_aggregation():
    sheets = _sheets(WORKED_SCORES)
    del sheets["m3"][("B", "comm")]
    with pytest.raises(ScoringError) as exc:
        aggregate(METHOD, WORKED_BIDS, ["D"], WORKED_ADJUSTMENTS, sheets, Decimal("10"))
    assert exc.value.code == "sheet_incomplete"
    assert exc.value.details["member"] == "m3"
    with pytest.raises(ScoringError):
        aggregate(METHOD, WORKED_BIDS, ["D"], WORKED_ADJUSTMENTS, {}, Decimal("10"))
    with pytest.raises(ScoringError) as unknown:
        aggregate(METHOD, WORKED_BIDS, ["Q"], WORKED_ADJUSTMENTS, sheets, Decimal("10"))
    assert unknown.value.code == "unknown_bid"


# -- ties -----------------------------------------------------------------------------------------


def test_equal_scores_go_to_the_lower_quoted_price_then_evaluation_price_then_credit_code():
    # X and Y score the same; Y quotes less (contract price) although its evaluation price is higher.
    adjustments = PriceAdjustments(sme_pct=Decimal("10"))
    bids = [Bid("X", "c-x", 1_000, sme=True), Bid("Y", "c-y", 950), Bid("Z", "c-z", 950), Bid("W", "c-w", 960)]
    prices = price_scores({"X": 900, "Y": 950, "Z": 950, "W": 960}, ["X", "Y", "Z", "W"], Decimal("30"))
    # Subjective points chosen so that every bid's total is exactly 80: commercial 20, technical
    # 60 minus the price score.
    table: dict[str, tuple[list[Any], list[Any]]] = {b: ([str(60 - prices[b])] * 5, [20] * 5) for b in prices}
    outcome = aggregate(METHOD, bids, [], adjustments, _sheets(table), Decimal("10"))
    assert {r.score for r in outcome.ranked} == {Decimal("80.00")}
    # Y and Z: same score, same quote, same evaluation price → credit code; W quotes more; X most.
    assert [r.bid_id for r in outcome.ranked] == ["Y", "Z", "W", "X"]
    assert [r.tied_with_previous for r in outcome.ranked] == [False, True, False, False]
    assert len(outcome.candidates) == MAX_CANDIDATES


def test_lowest_evaluated_price_ranks_by_evaluation_price():
    adjustments = PriceAdjustments(sme_pct=Decimal("20"))
    bids = [Bid("a", "c-a", 1_000), Bid("b", "c-b", 1_100, sme=True), Bid("c", "c-c", 900), Bid("d", "c-d", 880)]
    outcome = aggregate(LowestEvaluatedPrice(), bids, ["d"], adjustments, {}, Decimal("10"))
    # b: 1100 × 0.8 = 880 is the lowest evaluated price; d (880 quoted) is rejected.
    assert [(r.bid_id, r.evaluation_price_fen, r.score, r.rank) for r in outcome.ranked] == [
        ("b", 880, None, 1),
        ("c", 900, None, 2),
        ("a", 1_000, None, 3),
    ]
    assert outcome.deviations == []


def test_fewer_than_three_compliant_bids_give_fewer_candidates():
    outcome = aggregate(LowestEvaluatedPrice(), WORKED_BIDS, ["A", "B", "C"], PriceAdjustments(), {}, Decimal("1"))
    assert [c.bid_id for c in outcome.candidates] == ["D"]
    assert aggregate(LowestEvaluatedPrice(), WORKED_BIDS[:1], ["A"], PriceAdjustments(), {}, Decimal("1")).ranked == []


# -- rounding -------------------------------------------------------------------------------------


def test_round_fraction_agrees_with_decimal_half_up():
    rng = random.Random(20261129)
    for _ in range(5_000):
        numerator = rng.randint(-(10**9), 10**9)
        denominator = rng.choice([1, 2, 3, 7, 8, 40, 200, 1_000, 3_333, 10**6])
        exact = Fraction(numerator, denominator)
        with localcontext() as ctx:
            ctx.prec = 60  # enough for these operands: the quotient is exact to far below 0.001
            expected = (Decimal(numerator) / Decimal(denominator)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        assert round_fraction(exact) == expected, exact
    assert round_fraction(Fraction(5, 1000)) == Decimal("0.01")
    assert round_fraction(Fraction(-5, 1000)) == Decimal("-0.01")
    assert round_fraction(Fraction(7, 2), Decimal(1)) == Decimal(4)


# -- properties over random committees ------------------------------------------------------------


def _random_case(rng: random.Random) -> dict[str, Any]:
    weights = [rng.randint(10, 60)]
    rest = 100 - weights[0]
    technical = rng.randint(1, rest - 1)
    weights += [technical, rest - technical]
    method = ComprehensiveScoring(
        (
            Criterion("price", "价格", "price", Decimal(weights[0])),
            Criterion("tech", "技术", "technical", Decimal(weights[1])),
            Criterion("comm", "商务", "commercial", Decimal(weights[2])),
        )
    )
    bids = [
        Bid(
            f"bid-{i}",
            f"code-{rng.randint(0, 3)}",  # repeats on purpose: credit codes are only the last tiebreak
            rng.choice([rng.randint(1, 10**9), rng.randint(100, 120)]),
            sme=rng.random() < 0.4,
            innovation_product=rng.random() < 0.3,
        )
        for i in range(rng.randint(1, 9))
    ]
    twin_of = None
    if rng.random() < 0.4:
        # A twin (same quote and flags, scored the same below): equal scores must be common enough
        # for the tiebreaks to be exercised.
        twin_of = rng.choice(bids)
        bids.append(
            Bid(
                f"bid-{len(bids)}",
                f"code-{rng.randint(0, 3)}",
                twin_of.price_fen,
                twin_of.sme,
                twin_of.innovation_product,
            )
        )
    rejected = [b.bid_id for b in bids if rng.random() < 0.25]
    members = [f"member-{i}" for i in range(rng.choice([5, 7, 9]))]

    def points(maximum: int) -> Decimal:
        if rng.random() < 0.7:
            return Decimal(rng.randint(0, maximum * 2)) / 2
        return Decimal(rng.randint(0, maximum * 100)) / 100

    sheets = {
        m: {(b.bid_id, c.code): points(int(c.max_points)) for b in bids for c in method.subjective} for m in members
    }
    if twin_of is not None:
        for m in members:
            for c in method.subjective:
                sheets[m][(bids[-1].bid_id, c.code)] = sheets[m][(twin_of.bid_id, c.code)]
    adjustments = PriceAdjustments(
        sme_pct=Decimal(rng.randint(10, 20)) if rng.random() < 0.7 else None,
        innovation_pct=Decimal(10) if rng.random() < 0.5 else None,
    )
    threshold = Decimal(rng.choice(["1", "5", "10", "7.5"]))
    return {
        "method": method,
        "bids": bids,
        "rejected": rejected,
        "adjustments": adjustments,
        "sheets": sheets,
        "threshold": threshold,
    }


CASES = 400


@pytest.mark.parametrize("seed", range(4))
def test_properties_of_comprehensive_scoring(seed):
    rng = random.Random(seed)
    for _ in range(CASES):
        case = _random_case(rng)
        method, bids, rejected = case["method"], case["bids"], case["rejected"]
        outcome = aggregate(method, bids, rejected, case["adjustments"], case["sheets"], case["threshold"])
        compliant = [b for b in bids if b.bid_id not in rejected]
        by_id = {b.bid_id: b for b in bids}

        # Exactly the compliant bids are ranked, 1..n; at most three candidates, the top ones.
        assert sorted(r.bid_id for r in outcome.ranked) == sorted(b.bid_id for b in compliant)
        assert [r.rank for r in outcome.ranked] == list(range(1, len(compliant) + 1))
        assert outcome.candidates == outcome.ranked[: min(3, len(compliant))]

        if not compliant:
            continue
        weight = method.price.max_points
        lowest = min(r.evaluation_price_fen for r in outcome.ranked)
        for r in outcome.ranked:
            bid = by_id[r.bid_id]
            # The evaluation price never exceeds the quote and only moves for a flagged bid.
            assert 0 <= r.evaluation_price_fen <= bid.price_fen
            if not (bid.sme and case["adjustments"].sme_pct) and not (
                bid.innovation_product and case["adjustments"].innovation_pct
            ):
                assert r.evaluation_price_fen == bid.price_fen
            assert r.price_fen == bid.price_fen
            # Price score within [0, weight]; the lowest compliant evaluation price earns the full weight.
            assert r.price_score is not None
            assert 0 <= r.price_score <= weight
            if r.evaluation_price_fen == lowest:
                assert r.price_score == weight
            # The score is the rounded mean of every member's total (no trimming), each total the
            # member's subjective sum plus the price score.
            totals = []
            for member, scores in case["sheets"].items():
                subjective = sum(scores[(r.bid_id, c.code)] for c in method.subjective)
                assert r.member_totals[member] == subjective + r.price_score
                totals.append(subjective + r.price_score)
            with localcontext() as ctx:
                ctx.prec = 50
                mean = sum(totals) / len(totals)
                assert r.score == mean.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            # Deviation marks: exactly the totals further than the threshold from the exact mean.
            flagged = {d.member for d in outcome.deviations if d.bid_id == r.bid_id}
            expected = {m for m, t in zip(case["sheets"], totals, strict=True) if abs(t - mean) > case["threshold"]}
            assert flagged == expected
        # Price scores fall as evaluation prices rise.
        for a in outcome.ranked:
            for b in outcome.ranked:
                if a.evaluation_price_fen < b.evaluation_price_fen:
                    assert a.price_score >= b.price_score  # type: ignore[operator]
        # Order: score descending, then the lower quote (第五十七条), then evaluation price, then code.
        keys = [(-r.score, r.price_fen, r.evaluation_price_fen, r.bidder_credit_code) for r in outcome.ranked]  # type: ignore[operator]
        assert keys == sorted(keys)
        for prev, cur in zip(outcome.ranked, outcome.ranked[1:], strict=False):
            assert cur.tied_with_previous == ((cur.score, cur.price_fen) == (prev.score, prev.price_fen))


@pytest.mark.parametrize("seed", range(2))
def test_outcome_does_not_depend_on_input_order_or_rejected_bids(seed):
    rng = random.Random(1000 + seed)
    for _ in range(CASES // 2):
        case = _random_case(rng)
        args = (case["method"], case["bids"], case["rejected"], case["adjustments"], case["sheets"], case["threshold"])
        outcome = aggregate(*args)
        # Shuffled bids and members: the same result (the tiebreak ends with the bid id, so even
        # bids equal in every figure come out the same way).
        shuffled_bids = case["bids"][:]
        rng.shuffle(shuffled_bids)
        members = list(case["sheets"])
        rng.shuffle(members)
        shuffled = aggregate(
            case["method"],
            shuffled_bids,
            case["rejected"],
            case["adjustments"],
            {m: case["sheets"][m] for m in members},
            case["threshold"],
        )
        assert shuffled == outcome
        # A rejected bid counts for nothing: removing it from the input changes no figure.
        without = [b for b in case["bids"] if b.bid_id not in case["rejected"]]
        assert aggregate(case["method"], without, [], *args[3:]).ranked == outcome.ranked


@pytest.mark.parametrize("seed", range(2))
def test_properties_of_lowest_evaluated_price(seed):
    rng = random.Random(2000 + seed)
    for _ in range(CASES):
        case = _random_case(rng)
        outcome = aggregate(LowestEvaluatedPrice(), case["bids"], case["rejected"], case["adjustments"], {}, Decimal(1))
        keys = [(r.evaluation_price_fen, r.price_fen, r.bidder_credit_code) for r in outcome.ranked]
        assert keys == sorted(keys)
        assert all(r.score is None and r.price_score is None for r in outcome.ranked)
        assert len(outcome.candidates) == min(3, len(outcome.ranked))


def test_valid_random_sheets_pass_the_check_and_perturbed_ones_fail():
    rng = random.Random(7)
    for _ in range(CASES):
        case = _random_case(rng)
        method, bids = case["method"], [b.bid_id for b in case["bids"]]
        sheet = next(iter(case["sheets"].values()))
        assert check_sheet(method, bids, sheet) == []
        broken = dict(sheet)
        key = rng.choice(sorted(broken))
        criterion = next(c for c in method.subjective if c.code == key[1])
        broken[key] = rng.choice(
            [criterion.max_points + Decimal("0.01"), Decimal("-0.01"), broken[key] + Decimal("0.001")]
        )
        assert [p["bid_id"] for p in check_sheet(method, bids, broken)] == [key[0]]
        del broken[key]
        assert check_sheet(method, bids, broken) == [{"bid_id": key[0], "criterion": key[1], "problem": "missing"}]
