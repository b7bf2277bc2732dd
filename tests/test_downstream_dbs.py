"""DBS = mean over seeds with the seed std kept; truth-derived tables of the synthetic benchmark."""

from __future__ import annotations

import pandas as pd
import pytest

from tgrd.config import load_config
from tgrd.downstream.dbs import (
    clean_fraction,
    dbs_table,
    oracle_class_counts,
    quality_correlation,
    spread_summary,
)


def test_dbs_is_mean_over_seeds_with_std():
    runs = pd.DataFrame(
        [
            ("code", "a", 0, 0.5), ("code", "a", 1, 0.7), ("code", "a", 2, 0.6),
            ("code", "b", 0, 0.1), ("code", "b", 1, 0.1), ("code", "b", 2, 0.1),
        ],
        columns=["task", "candidate", "seed", "score"],
    )  # fmt: skip
    dbs = dbs_table(runs).set_index("candidate")
    assert dbs.loc["a", "dbs"] == pytest.approx(0.6)
    assert dbs.loc["a", "seed_std"] == pytest.approx(0.1)
    assert dbs.loc["b", "seed_std"] == 0.0 and dbs.loc["a", "n_seeds"] == 3
    assert dbs.loc["a", "scores"] == [0.5, 0.7, 0.6]
    s = spread_summary(dbs.reset_index()).iloc[0]
    assert s["dbs_range"] == pytest.approx(0.5) and s["mean_seed_std"] == pytest.approx(0.05)
    with pytest.raises(ValueError, match="score"):
        dbs_table(runs.drop(columns="score"))


def test_truth_tables(tmp_path):
    from tgrd.synth.generate import generate

    generate(load_config("configs/synth_smoke.yaml").synth, tmp_path)
    clean = clean_fraction(tmp_path / "truth.parquet")
    assert len(clean) == 16 and clean["clean_fraction"].between(0, 1).all()
    counts = oracle_class_counts(tmp_path / "truth.parquet")
    assert list(counts.columns) == [
        "task", "candidate", "GATE_FAIL", "INCORRECT", "TASK_MISMATCH", "PASS",
    ]  # fmt: skip
    both = counts.merge(clean, on=["task", "candidate"])
    frac_pass = both["PASS"] / both[["GATE_FAIL", "INCORRECT", "TASK_MISMATCH", "PASS"]].sum(1)
    assert frac_pass.to_numpy() == pytest.approx(both["clean_fraction"].to_numpy())
    # DBS equal to the clean fraction ranks perfectly; constant DBS gives None, not NaN.
    rho = quality_correlation(clean.rename(columns={"clean_fraction": "dbs"}), clean)
    assert rho["spearman_clean_vs_dbs"].tolist() == pytest.approx([1.0, 1.0])
    flat = clean.assign(dbs=0.5).drop(columns="clean_fraction")
    assert quality_correlation(flat, clean)["spearman_clean_vs_dbs"].isna().all()
