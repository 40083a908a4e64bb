"""The selection function is fair: over many simulated draws every eligible expert is taken with the
expected frequency, never an excluded one, never one twice.

Goodness of fit, at significance α = 0.001, over T = 60,000 draws with a fixed sequence of seeds
(seed_i = SHA-256("fairness-test" ‖ i)), so the test is deterministic:

- A draw takes k = count + reserves of the n eligible experts without replacement, so expert j's
  count O_j over T draws has mean E = T·k/n and variance E·(1 − k/n), and the counts are negatively
  correlated (their total is fixed). The statistic

      X = Σ_j (O_j − E)² / (E · (1 − k/n) · n/(n − 1))

  follows χ² with n − 1 degrees of freedom when every expert is equally likely (for k = 1 it is
  Pearson's statistic). We reject uniformity if X exceeds the χ² quantile 1 − α, computed here with
  the Wilson–Hilferty approximation (scipy is not a dependency); the exact upper-tail p-value is
  also computed from the regularised incomplete gamma function and reported.
- The same for members only (k = count), and for who is drawn first (k = 1, plain Pearson): the
  order, not only the set, is uniform.

n = 40 eligible experts, k = 5 members + 2 reserves, df = 39, critical value 72.14 (tables: 72.05).
With this seed sequence X = 30.5 (p = 0.83) for the experts taken, 35.9 (p = 0.61) for members and
29.3 (p = 0.87) for the first drawn; with 10 of the 40 set aside during the draw, X = 29.8 over the
30 left (df = 29, critical value 58.41, p = 0.42).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from services.expert_pool.draws import fairness
from services.expert_pool.draws.fairness import Want
from tools import verify_draw

ALPHA = 0.001
Z_999 = 3.090232306167813  # the standard normal quantile 1 − α
TRIALS = 60_000
N = 40
WANT = Want("A01", 5, 2)
DIGEST = fairness.document_digest({"request": "fairness-test"})
EXPERTS = [f"{i:08x}-0000-4000-8000-{i:012x}" for i in range(1, N + 1)]


def seed(i: int) -> bytes:
    return hashlib.sha256(b"fairness-test" + i.to_bytes(4, "big")).digest()


def chi2_critical(df: int, alpha: float = ALPHA) -> float:
    """Wilson–Hilferty: (X/df)^(1/3) is close to normal with mean 1 − 2/(9 df) and variance 2/(9 df)."""
    assert alpha == ALPHA
    h = 2 / (9 * df)
    return df * (1 - h + Z_999 * math.sqrt(h)) ** 3


def chi2_pvalue(x: float, df: int) -> float:
    """P(χ²_df > x) = 1 − P(df/2, x/2), with the lower regularised gamma function as a series."""
    a, y = df / 2, x / 2
    term = total = 1 / a
    n = 0
    while term > total * 1e-15:
        n += 1
        term *= y / (a + n)
        total += term
    return max(0.0, 1 - total * math.exp(-y + a * math.log(y) - math.lgamma(a)))


def statistic(counts: Counter[str], k: int) -> float:
    expected = TRIALS * k / N
    scale = expected * (1 - k / N) * N / (N - 1)
    return sum((counts[e] - expected) ** 2 for e in EXPERTS) / scale


@pytest.fixture(scope="module")
def simulation() -> dict[str, Counter[str]]:
    taken: Counter[str] = Counter()
    members: Counter[str] = Counter()
    first: Counter[str] = Counter()
    for i in range(TRIALS):
        [pick] = fairness.select(seed(i), DIGEST, [WANT], [EXPERTS])
        chosen = pick.members + pick.reserves
        assert len(chosen) == WANT.total == len(set(chosen))  # never a duplicate
        taken.update(chosen)
        members.update(pick.members)
        first[pick.members[0]] += 1
    return {"taken": taken, "members": members, "first": first}


def test_the_approximations_are_sound():
    # Tabulated χ² quantiles at 0.999: df 39 → 72.055, df 10 → 29.588.
    assert chi2_critical(39) == pytest.approx(72.055, abs=0.15)
    assert chi2_critical(10) == pytest.approx(29.588, abs=0.25)
    assert chi2_pvalue(72.055, 39) == pytest.approx(0.001, rel=0.01)
    assert chi2_pvalue(29.588, 10) == pytest.approx(0.001, rel=0.01)


@pytest.mark.parametrize(("which", "k"), [("taken", WANT.total), ("members", WANT.count), ("first", 1)])
def test_every_eligible_expert_is_equally_likely(simulation, which, k):
    counts = simulation[which]
    x = statistic(counts, k)
    critical = chi2_critical(N - 1)
    assert x < critical, f"{which}: X = {x:.2f} ≥ {critical:.2f} (p = {chi2_pvalue(x, N - 1):.2e})"
    assert set(counts) <= set(EXPERTS)


def test_a_biased_selector_fails_the_same_test():
    """The test has teeth: a selector that favours the first id a little is caught."""
    counts: Counter[str] = Counter()
    for i in range(TRIALS):
        rng = random.Random(i)  # a deliberately poor selector
        pool = EXPERTS[:]
        chosen = rng.sample(pool, WANT.total)
        if EXPERTS[0] not in chosen and rng.random() < 0.05:
            chosen[-1] = EXPERTS[0]
        counts.update(chosen)
    assert statistic(counts, WANT.total) > chi2_critical(N - 1)


def test_never_an_excluded_expert():
    banned = set(EXPERTS[::3])
    for i in range(300):
        [pick] = fairness.select(seed(i), DIGEST, [WANT], [EXPERTS], banned)
        assert not banned.intersection(pick.members + pick.reserves)
        assert len(pick.members + pick.reserves) == WANT.total


def test_experts_set_aside_during_the_draw_leave_a_fair_draw_of_the_rest():
    """The service walks the shuffle of the snapshot and skips experts set aside (banned, changed):
    the rest are still equally likely (χ² as above, over the 30 left)."""
    aside = set(EXPERTS[:10])
    rest = EXPERTS[10:]
    counts: Counter[str] = Counter()
    trials = 20_000
    for i in range(trials):
        [pick] = fairness.select(seed(i), DIGEST, [WANT], [EXPERTS], aside)
        counts.update(pick.members + pick.reserves)
    assert set(counts) == set(rest)
    n, k = len(rest), WANT.total
    expected = trials * k / n
    x = sum((counts[e] - expected) ** 2 for e in rest) / (expected * (1 - k / n) * n / (n - 1))
    assert x < chi2_critical(n - 1), f"X = {x:.2f} (p = {chi2_pvalue(x, n - 1):.2e})"


def test_an_expert_taken_for_one_specialty_is_not_taken_again():
    """Experts in both specialties: never twice, and the second line still gets its full count."""
    both = EXPERTS[:10]
    second_only = EXPERTS[10:14]
    wants = [Want("A01", 5, 2), Want("B02", 3, 1)]
    for i in range(500):
        picks = fairness.select(seed(i), DIGEST, wants, [EXPERTS[:20], both + second_only])
        everyone = [e for p in picks for e in p.members + p.reserves]
        assert len(everyone) == len(set(everyone)) == 11
        assert set(picks[1].members + picks[1].reserves) <= set(both + second_only)


def test_too_few_experts_yields_what_there_is():
    [pick] = fairness.select(seed(1), DIGEST, [Want("A01", 5, 2)], [EXPERTS[:6]])
    assert (len(pick.members), len(pick.reserves)) == (5, 1)
    [pick] = fairness.select(seed(1), DIGEST, [Want("A01", 5, 2)], [EXPERTS[:3]])
    assert (len(pick.members), len(pick.reserves)) == (3, 0)


def test_the_selection_depends_on_seed_request_specialty_and_the_snapshots_order():
    def taken(s=seed(1), digest=DIGEST, specialty="A01", snapshot=EXPERTS):
        [pick] = fairness.select(s, digest, [Want(specialty, 5, 2)], [snapshot])
        return pick.members + pick.reserves

    base = taken()
    assert taken() == base  # deterministic
    assert taken(s=seed(2)) != base
    assert taken(digest=fairness.document_digest({"other": 1})) != base
    assert taken(specialty="B02") != base
    # Positions are shuffled, so the snapshot's order matters: that is why it is sorted and hashed.
    assert taken(snapshot=list(reversed(EXPERTS))) != base


def test_rejection_sampling_rejects_the_blocks_a_modulo_would_bias():
    """For a bound just above 2^255 about half the blocks fall in the biased tail: they are thrown
    away and the next block is read. Every answer is below the bound."""
    stream = fairness.Stream(seed(3), DIGEST, "A01")
    bound = 2**255 + 1
    answers = [stream.below(bound) for _ in range(200)]
    assert all(0 <= a < bound for a in answers)
    assert 300 < stream.counter < 500  # about two blocks per answer
    small = fairness.Stream(seed(3), DIGEST, "A01")
    assert Counter(small.below(3) for _ in range(3000)).keys() == {0, 1, 2}
    assert small.counter == 3000  # 2^256 mod 3 = 1: the single rejected value is never met
    with pytest.raises(ValueError, match="positive"):
        small.below(0)


def test_the_shuffle_is_computed_once_and_walked_again_for_free():
    shuffle = fairness.Shuffle(seed(4), DIGEST, "A01", EXPERTS)
    first = list(itertools.islice(shuffle, 7))
    used = shuffle._stream.counter
    assert list(itertools.islice(shuffle, 7)) == first and shuffle._stream.counter == used
    whole = list(shuffle)
    assert whole[:7] == first and sorted(whole) == sorted(EXPERTS)


def test_the_independent_verifier_agrees_with_the_service():
    """tools/verify_draw.py re-implements docs/draw.md without importing the service."""
    rng = random.Random(7)
    for i in range(100):
        wants = [Want("A01", 3, rng.randrange(3)), Want("B02", 2, rng.randrange(3))]
        snapshot = [sorted(rng.sample(EXPERTS, 12)), sorted(rng.sample(EXPERTS, 9))]
        skipped = dict.fromkeys(rng.sample(EXPERTS, 3), "credit_banned")
        lines = [{"specialty": w.specialty, "count": w.count, "reserves": w.reserves} for w in wants]
        request = {"request": {"specialties": lines}}
        record: dict[str, Any] = {
            "seed": seed(i).hex(),
            "request": request,
            "request_digest": fairness.document_digest(request),
            "snapshot": fairness.snapshot_json(wants, snapshot),
            "skipped": skipped,
        }
        picks = fairness.select(seed(i), record["request_digest"], wants, snapshot, set(skipped))
        assert verify_draw.recompute(record) == fairness.result_json(picks)


def test_commitment_and_canonical_json():
    s = bytes(range(32))
    assert fairness.commitment_of(s) == hashlib.sha256(s).hexdigest()
    with pytest.raises(ValueError, match="32 bytes"):
        fairness.commitment_of(b"short")
    assert fairness.canonical_json({"b": [1, "晋"], "a": None}) == '{"a":null,"b":[1,"晋"]}'.encode()


def test_the_worked_example_of_docs_draw_md():
    """docs/draw.md §9 gives every intermediate value; they are these, and they are in the doc."""
    seed_bytes = bytes(range(32))
    request = {
        "format": "jincheng-draw-request/1",
        "kind": "initial",
        "parent_id": None,
        "reason": None,
        "request": {
            "specialties": [
                {"specialty": "A01", "count": 2, "reserves": 1},
                {"specialty": "B02", "count": 1, "reserves": 0},
            ]
        },
    }
    ids = [f"00000000-0000-4000-8000-00000000000{n}" for n in range(1, 6)]
    wants = fairness.wants_of(request)
    digest = fairness.document_digest(request)
    snapshot = [ids, ids[2:]]
    picks = fairness.select(seed_bytes, digest, wants, snapshot)
    values = {
        "commitment": fairness.commitment_of(seed_bytes),
        "request_digest": digest,
        "snapshot_sha256": fairness.document_digest(fairness.snapshot_json(wants, snapshot)),
        "result_sha256": fairness.document_digest(fairness.result_json(picks)),
        "block A01 0": fairness.block(seed_bytes, digest, "A01", 0).hex()[:16],
        "block A01 2": fairness.block(seed_bytes, digest, "A01", 2).hex()[:16],
        "block B02 0": fairness.block(seed_bytes, digest, "B02", 0).hex()[:16],
    }
    assert values == {
        "commitment": "630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd",
        "request_digest": "b06b3ef4660225d44ae46ab9660abba15d14e8cc6907dde22757eb3a2610c14b",
        "snapshot_sha256": "d40fe9b5226013db76b2b91c5d2fe78a5bd1be4bf4bdd2c983f37084825d4fc0",
        "result_sha256": "b9c1dc9c849925f1b35a5f4bf7c1dc46705aa28bc2dfd12b82db6796d8c56d1d",
        "block A01 0": "bb0844abdc38b9ec",
        "block A01 2": "4480def7b47806f7",
        "block B02 0": "a20a23af388db4b3",
    }
    assert [(p.members, p.reserves) for p in picks] == [((ids[4], ids[0]), (ids[3],)), ((ids[2],), ())]
    doc = (Path(__file__).resolve().parents[3] / "docs" / "draw.md").read_text(encoding="utf-8")
    assert all(value in doc for value in values.values())
    assert fairness.canonical_json(request).decode() in doc
