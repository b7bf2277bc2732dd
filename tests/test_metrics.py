"""Ranking metrics against scipy, brute force, and the paper's consistent figures."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from tgrd import metrics

# A K = 8 ranking with Σd² = 28, i.e. Spearman ρ = 1 − 6·28/(8·63) = 0.667 (the paper's code ρ).
DVS_RHO_0667 = [1, 2, 3, 4, 5, 6, 7, 8]
DBS_RHO_0667 = [1, 2, 3, 5, 8, 7, 6, 4]


def test_correlations_match_scipy():
    rng = np.random.default_rng(0)
    for _ in range(20):
        x, y = rng.normal(size=8), rng.normal(size=8)
        assert metrics.spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic)
        assert metrics.kendall(x, y) == pytest.approx(stats.kendalltau(x, y).statistic)


@pytest.mark.parametrize("tau_target, acc", [(0.5, 0.75), (-0.571, 0.214)])
def test_pairwise_accuracy_is_half_one_plus_tau_without_ties(tau_target, acc):
    # K = 8 has 28 pairs; τ = (28 − 2·inversions) / 28. Build a permutation with exactly that
    # many inversions from its Lehmer code, then check (1 + τ) / 2.
    inversions = round(28 * (1 - tau_target) / 2)
    remaining, code = inversions, []
    for slots in range(7, -1, -1):
        take = min(slots, remaining)
        code.append(take)
        remaining -= take
    pool, perm = list(range(8)), []
    for c in code:
        perm.append(pool.pop(c))
    tau = metrics.kendall(np.arange(8), perm)
    assert tau == pytest.approx(tau_target, abs=0.001)
    assert metrics.pairwise_accuracy(np.arange(8), perm) == pytest.approx((1 + tau) / 2)
    assert metrics.pairwise_accuracy(np.arange(8), perm) == pytest.approx(acc, abs=0.001)


def test_pairwise_accuracy_ties():
    assert metrics.pairwise_accuracy([1, 1], [1, 2]) == 0.5  # verifier cannot tell them apart
    assert metrics.pairwise_accuracy([1, 2, 3], [1, 1, 2]) == 1.0  # DBS ties carry no order


def test_top1_regret():
    assert metrics.top1_regret([0.1, 0.9, 0.5], [0.3, 0.7, 0.6]) == pytest.approx(0.0)
    assert metrics.top1_regret([0.9, 0.1, 0.5], [0.3, 0.7, 0.6]) == pytest.approx(0.4)
    assert metrics.top1_regret([0.9, 0.9, 0.5], [0.7, 0.3, 0.6]) == pytest.approx(
        0.4
    )  # worst of ties


def test_exact_permutation_p_for_rho_0667_k8():
    assert metrics.spearman(DVS_RHO_0667, DBS_RHO_0667) == pytest.approx(2 / 3)
    strict_one = metrics.permutation_pvalue(DVS_RHO_0667, DBS_RHO_0667, include_observed=False)
    strict_two = metrics.permutation_pvalue(
        DVS_RHO_0667, DBS_RHO_0667, alternative="two-sided", include_observed=False
    )
    assert strict_one == pytest.approx(0.035, abs=0.0005)
    assert strict_two == pytest.approx(0.069, abs=0.0005)
    # The inclusive p (ties with the observed ρ count as extreme) is the conservative one.
    assert metrics.permutation_pvalue(DVS_RHO_0667, DBS_RHO_0667) == pytest.approx(
        0.0415, abs=0.0005
    )


def test_permutation_p_matches_brute_force_for_kendall_and_custom():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=6), rng.normal(size=6)
    for stat in (metrics.kendall, metrics.pairwise_accuracy):
        obs = stat(x, y)
        null = [stat(x[list(p)], y) for p in itertools.permutations(range(6))]
        brute = np.mean(np.array(null) >= obs - 1e-12)
        assert metrics.permutation_pvalue(x, y, stat) == pytest.approx(brute)
    x_ties = np.array([1, 1, 2, 3, 3, 4.0])
    obs = metrics.kendall(x_ties, y)
    null = [metrics.kendall(x_ties[list(p)], y) for p in itertools.permutations(range(6))]
    assert metrics.permutation_pvalue(
        x_ties, y, metrics.kendall, alternative="two-sided"
    ) == pytest.approx(np.mean(np.abs(null) >= abs(obs) - 1e-12))


def test_permutation_refuses_large_k_and_bad_alternative():
    with pytest.raises(ValueError, match="K <= 10"):
        metrics.permutation_pvalue(range(11), range(11))
    with pytest.raises(ValueError, match="alternative"):
        metrics.permutation_pvalue(range(4), range(4), alternative="sideways")


def test_bootstrap_ci_brackets_the_estimate_and_is_seeded():
    rng = np.random.default_rng(1)
    x = np.arange(8.0)
    y = x + rng.normal(scale=2.0, size=8)
    lo, hi = metrics.bootstrap_ci(x, y, metrics.spearman, seed=4)
    assert lo <= metrics.spearman(x, y) <= hi
    assert (lo, hi) == metrics.bootstrap_ci(x, y, metrics.spearman, seed=4)
    assert -1 <= lo < hi <= 1


def test_input_validation():
    with pytest.raises(ValueError, match="equal length"):
        metrics.spearman([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="at least 2"):
        metrics.kendall([1], [1])


def test_ranking_report_is_json_ready():
    import json

    rep = metrics.ranking_report(DVS_RHO_0667, DBS_RHO_0667, n_resamples=200)
    json.dumps(rep)
    assert rep["k"] == 8 and rep["spearman_p_two_sided_strict"] == pytest.approx(0.069, abs=0.0005)
    assert rep["pairwise_accuracy"] == pytest.approx((1 + rep["kendall"]) / 2)
