"""Ranking metrics between a verifier's Dataset Value Scores (DVS) and downstream scores (DBS).

With K = 8 candidates every figure is fragile, so each comes with its uncertainty:

- :func:`spearman`, :func:`kendall` — rank correlations (scipy.stats; τ-b handles ties).
- :func:`pairwise_accuracy` — fraction of candidate pairs ordered the same way by both scores;
  without ties it equals (1 + τ) / 2 (τ = 0.5 → 0.75; τ = −0.571 → 0.214).
- :func:`top1_regret` — DBS of the best candidate minus DBS of the one the verifier picks.
- :func:`bootstrap_ci` — percentile CI of any of these, resampling candidates with replacement.
- :func:`permutation_pvalue` — exact p-value of a statistic under random assignment of DVS to
  candidates, enumerating all K! permutations (K ≤ 10; K = 8 → 40,320). With K = 8,
  ρ = 0.667 gives one-sided p = 0.035 and two-sided 0.069.
- :func:`ranking_report` — all of the above for one verifier in a JSON-ready dict.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import numpy as np
from scipy import stats

Statistic = Callable[[np.ndarray, np.ndarray], float]


def _pair(dvs: Sequence[float], dbs: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(dvs, dtype=np.float64), np.asarray(dbs, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"dvs and dbs must be 1-D of equal length, got {x.shape} and {y.shape}")
    if len(x) < 2:
        raise ValueError("need at least 2 candidates to compare rankings")
    return x, y


def spearman(dvs: Sequence[float], dbs: Sequence[float]) -> float:
    x, y = _pair(dvs, dbs)
    return float(stats.spearmanr(x, y).statistic)


def kendall(dvs: Sequence[float], dbs: Sequence[float]) -> float:
    x, y = _pair(dvs, dbs)
    return float(stats.kendalltau(x, y).statistic)


def pairwise_accuracy(dvs: Sequence[float], dbs: Sequence[float]) -> float:
    """Fraction of candidate pairs the verifier orders as the ground truth does.

    Pairs tied in DBS carry no order and are skipped; a pair tied in DVS only counts half
    (the verifier could not tell them apart).
    """
    x, y = _pair(dvs, dbs)
    i, j = np.triu_indices(len(x), k=1)
    truth = np.sign(y[i] - y[j])
    pred = np.sign(x[i] - x[j])
    keep = truth != 0
    if not keep.any():
        return float("nan")
    score = np.where(pred[keep] == 0, 0.5, (pred[keep] == truth[keep]).astype(np.float64))
    return float(score.mean())


def top1_regret(dvs: Sequence[float], dbs: Sequence[float]) -> float:
    """DBS(best candidate) − DBS(candidate with the highest DVS); ties in DVS take the worst."""
    x, y = _pair(dvs, dbs)
    picked = np.flatnonzero(x == x.max())
    return float(y.max() - y[picked].min())


METRICS: dict[str, Statistic] = {
    "spearman": spearman,
    "kendall": kendall,
    "pairwise_accuracy": pairwise_accuracy,
    "top1_regret": top1_regret,
}


def bootstrap_ci(
    dvs: Sequence[float],
    dbs: Sequence[float],
    statistic: Statistic,
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap CI over candidates (resampled with replacement).

    Resamples in which the statistic is undefined (e.g. all DVS equal) are dropped.
    """
    x, y = _pair(dvs, dbs)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_resamples):
        idx = rng.integers(0, len(x), len(x))
        if np.ptp(x[idx]) == 0 or np.ptp(y[idx]) == 0:
            continue
        with np.errstate(all="ignore"):
            v = statistic(x[idx], y[idx])
        if np.isfinite(v):
            values.append(v)
    if not values:
        return float("nan"), float("nan")
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(values, [alpha, 1 - alpha])
    return float(lo), float(hi)


def permutation_pvalue(
    dvs: Sequence[float],
    dbs: Sequence[float],
    statistic: Statistic = spearman,
    *,
    alternative: str = "greater",
    include_observed: bool = True,
    max_exact: int = 10,
) -> float:
    """Exact permutation p-value: share of the K! reassignments at least as extreme.

    The standard p counts reassignments whose statistic equals the observed one
    (``include_observed=True``). Rank statistics of K = 8 are coarse, so that choice matters:
    for ρ = 0.667 the inclusive one-sided p is 0.042 (two-sided 0.083), the strict one
    (only reassignments *more* extreme, the convention behind the often-quoted 0.035 / 0.069)
    is 0.035 (two-sided 0.069). Reports show both.

    Args:
        alternative: "greater" (one-sided, the verifier ranks better than chance), "less", or
            "two-sided" (|statistic| at least as large).
        max_exact: refuse to enumerate beyond this K (10! = 3.6M statistic evaluations).
    """
    x, y = _pair(dvs, dbs)
    if len(x) > max_exact:
        raise ValueError(f"exact permutation test needs K <= {max_exact}, got K = {len(x)}")
    if alternative not in ("greater", "less", "two-sided"):
        raise ValueError(f"alternative must be greater, less or two-sided, got {alternative!r}")
    observed = statistic(x, y)
    # Rank statistics: the statistic only depends on ranks, so vectorise Spearman exactly.
    if statistic is spearman:
        rx, ry = stats.rankdata(x), stats.rankdata(y)
        perms = np.array(list(itertools.permutations(range(len(x)))), dtype=np.int64)
        rxp = rx[perms]
        rxc, ryc = rxp - rxp.mean(axis=1, keepdims=True), ry - ry.mean()
        denom = np.sqrt((rxc**2).sum(axis=1) * (ryc**2).sum())
        with np.errstate(invalid="ignore", divide="ignore"):
            null = (rxc @ ryc) / denom
    elif statistic is kendall:
        # τ-b = Σ sign(Δx)·sign(Δy) / sqrt((n0 − ties_x)(n0 − ties_y)); permuting x leaves the
        # tie counts, hence the denominator, unchanged: only the numerator varies.
        perms = np.array(list(itertools.permutations(range(len(x)))), dtype=np.int64)
        i, j = np.triu_indices(len(x), k=1)
        sy = np.sign(y[i] - y[j])
        xp = x[perms]
        num = np.sign(xp[:, i] - xp[:, j]) @ sy
        n_pairs_x, n_pairs_y = np.count_nonzero(np.sign(x[i] - x[j])), np.count_nonzero(sy)
        with np.errstate(invalid="ignore", divide="ignore"):
            null = num / np.sqrt(float(n_pairs_x) * float(n_pairs_y))
    else:
        null = np.array([statistic(x[list(p)], y) for p in itertools.permutations(range(len(x)))])
    # Floating-point noise must not split ties: compare with a tolerance in the chosen direction.
    tol = 1e-12 if include_observed else -1e-12
    if alternative == "greater":
        hits = null >= observed - tol
    elif alternative == "less":
        hits = null <= observed + tol
    else:
        hits = np.abs(null) >= abs(observed) - tol
    return float(hits.mean())


def ranking_report(
    dvs: Sequence[float],
    dbs: Sequence[float],
    *,
    n_resamples: int = 2000,
    seed: int = 0,
) -> dict[str, object]:
    """Every ranking metric with its bootstrap CI, plus permutation p-values for ρ and τ."""
    x, y = _pair(dvs, dbs)
    out: dict[str, object] = {"k": len(x)}
    for name, fn in METRICS.items():
        out[name] = fn(x, y)
        out[f"{name}_ci95"] = bootstrap_ci(x, y, fn, n_resamples=n_resamples, seed=seed)
    if len(x) <= 10:
        out["spearman_p_one_sided"] = permutation_pvalue(x, y, spearman, alternative="greater")
        out["spearman_p_two_sided"] = permutation_pvalue(x, y, spearman, alternative="two-sided")
        out["spearman_p_one_sided_strict"] = permutation_pvalue(
            x, y, spearman, alternative="greater", include_observed=False
        )
        out["spearman_p_two_sided_strict"] = permutation_pvalue(
            x, y, spearman, alternative="two-sided", include_observed=False
        )
        out["kendall_p_one_sided"] = permutation_pvalue(x, y, kendall, alternative="greater")
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in out.items()}
