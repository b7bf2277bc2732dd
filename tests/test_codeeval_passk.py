"""pass@k against a brute-force count over every k-subset of the samples.

pytest tests/test_codeeval_passk.py -q
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import pytest

from tgrd.codeeval.passk import mean_pass_at_k, pass_at_k


def brute_force(n: int, c: int, k: int) -> float:
    """Fraction of the C(n, k) draws of k samples that contain at least one passing sample."""
    samples = [True] * c + [False] * (n - c)
    draws = list(itertools.combinations(samples, k))
    return sum(any(d) for d in draws) / len(draws)


@pytest.mark.parametrize("n", [1, 2, 5, 8, 10])
def test_matches_enumeration_of_all_draws(n):
    for c in range(n + 1):
        for k in range(1, n + 1):
            assert pass_at_k(n, c, k) == pytest.approx(brute_force(n, c, k), abs=1e-12), (n, c, k)


def test_large_n_matches_exact_binomials_without_overflow():
    # C(200, 100) has 59 digits: the naive ratio overflows floats; the product form does not.
    for n, c, k in [(200, 3, 100), (200, 150, 100), (1000, 1, 1), (500, 37, 10), (100, 0, 100)]:
        exact = 1 - Fraction(math.comb(n - c, k), math.comb(n, k))
        assert pass_at_k(n, c, k) == pytest.approx(float(exact), abs=1e-12)


def test_special_cases():
    assert pass_at_k(10, 0, 5) == 0.0
    assert pass_at_k(10, 10, 1) == 1.0
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)  # pass@1 is the pass rate
    assert pass_at_k(10, 6, 5) == 1.0  # fewer than k failures: every draw passes


@pytest.mark.parametrize("n,c,k", [(5, 6, 1), (5, -1, 1), (5, 2, 0), (5, 2, 6)])
def test_rejects_impossible_inputs(n, c, k):
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def test_mean_over_problems_and_undefined_k():
    out = mean_pass_at_k([(10, 2), (10, 0), (4, 4)], ks=(1, 5))
    assert out["pass@1"] == pytest.approx((0.2 + 0.0 + 1.0) / 3)
    assert out["pass@5"] is None  # one problem has only 4 samples
    assert mean_pass_at_k([], ks=(1,)) == {"pass@1": None}
