"""Downstream Benchmark Score (DBS) from per-run scores: mean over seeds, seed spread kept.

    from tgrd.downstream.dbs import dbs_table, spread_summary
    dbs = dbs_table(runs)          # runs: DataFrame with task, candidate, seed, score
    spread_summary(dbs)            # per task: mean seed std vs the spread between candidates

With K = 8 candidates a ranking is only meaningful where the gaps between candidates exceed the
seed noise, so the seed standard deviation (ddof=1) travels with every DBS, and
:func:`spread_summary` puts the two side by side. :func:`clean_fraction` reads the planted truth
of a synthetic benchmark, for checking that the DBS tracks data quality at all.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

RUN_COLUMNS = ("task", "candidate", "seed", "score")


def dbs_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (task, candidate): ``dbs`` (mean over seeds), ``seed_std``, ``n_seeds``, scores."""
    missing = [c for c in RUN_COLUMNS if c not in runs.columns]
    if missing:
        raise ValueError(f"runs table lacks column(s) {missing}")
    g = runs.sort_values("seed").groupby(["task", "candidate"], sort=True)["score"]
    out = g.agg(dbs="mean", seed_std="std", n_seeds="count", seed_min="min", seed_max="max")
    out["seed_std"] = out["seed_std"].fillna(0.0)  # one seed: no spread measured
    out["scores"] = g.agg(list)
    return out.reset_index()


def spread_summary(dbs: pd.DataFrame) -> pd.DataFrame:
    """Per task: mean seed std, DBS range (max - min) over candidates, and their ratio."""
    rows = []
    for task, part in dbs.groupby("task", sort=True):
        spread = float(part["dbs"].max() - part["dbs"].min())
        noise = float(part["seed_std"].mean())
        rows.append(
            {
                "task": task,
                "k": len(part),
                "mean_seed_std": noise,
                "dbs_range": spread,
                "range_over_noise": spread / noise if noise > 0 else None,
            }
        )
    return pd.DataFrame(rows)


def clean_fraction(truth_path: str | Path, label_column: str = "label5") -> pd.DataFrame:
    """Fraction of each candidate's instances whose planted label is PASS (synthetic truth)."""
    truth = pd.read_parquet(truth_path, columns=["task", "dataset", label_column])
    truth = truth[truth["dataset"] != "pool"]
    frac = (truth[label_column] == "PASS").groupby([truth["task"], truth["dataset"]]).mean()
    return frac.rename("clean_fraction").rename_axis(["task", "candidate"]).reset_index()


def quality_correlation(dbs: pd.DataFrame, clean: pd.DataFrame) -> pd.DataFrame:
    """Spearman between clean fraction and DBS per task (a sanity check of the ground truth)."""
    from tgrd.metrics import spearman

    both = dbs.merge(clean, on=["task", "candidate"], how="inner")
    rows = []
    for task, part in both.groupby("task", sort=True):
        rho = spearman(part["clean_fraction"], part["dbs"])
        # Constant DBS (nothing learned) leaves ρ undefined: None, never NaN in JSON.
        rows.append(
            {"task": task, "k": len(part), "spearman_clean_vs_dbs": None if rho != rho else rho}
        )
    return pd.DataFrame(rows)


# Planted categories the deterministic gates stand for (empty, degenerate, malformed); a
# truncated response passes the gates and counts as INCORRECT, as the 3-way rubric says.
_GATED_CATEGORIES = ("empty", "repetition", "malformed")


def oracle_class_counts(truth_path: str | Path) -> pd.DataFrame:
    """Per (task, candidate) counts of GATE_FAIL / INCORRECT / TASK_MISMATCH / PASS from the truth.

    The verdicts of a perfect tool+verifier on the synthetic benchmark: an upper bound for the
    real verifiers, and a ready input for ``tgrd calibrate`` before any verifier has run.
    """
    truth = pd.read_parquet(truth_path, columns=["task", "dataset", "category", "label3"])
    truth = truth[truth["dataset"] != "pool"]
    cls = truth["label3"].where(~truth["category"].isin(_GATED_CATEGORIES), "GATE_FAIL")
    counts = pd.crosstab([truth["task"], truth["dataset"]], cls)
    for c in ("GATE_FAIL", "INCORRECT", "TASK_MISMATCH", "PASS"):
        if c not in counts:
            counts[c] = 0
    counts = counts[["GATE_FAIL", "INCORRECT", "TASK_MISMATCH", "PASS"]]
    return counts.rename_axis(index=["task", "candidate"], columns=None).reset_index()
