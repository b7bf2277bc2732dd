"""Score-map calibration: held-out figures never see the held-out fold; Tune = in-process search."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tgrd.config import load_config
from tgrd.downstream.calibrate import (
    block_maps,
    evaluate_search,
    load_table,
    make_folds,
    select_maps,
)

CLASSES = ["GATE_FAIL", "INCORRECT", "TASK_MISMATCH", "PASS"]
PAPER = {"GATE_FAIL": 0.0, "INCORRECT": 0.0, "TASK_MISMATCH": 0.35, "PASS": 0.05}


def noise_table(seed: int, k: int = 8) -> pd.DataFrame:
    """Class counts and DBS drawn independently: any fitted map is pure overfitting."""
    rng = np.random.default_rng(seed)
    rows = []
    for task in ("code", "finqa"):
        for c in range(k):
            counts = rng.multinomial(128, rng.dirichlet(np.ones(len(CLASSES))))
            rows.append(
                {
                    "task": task,
                    "candidate": f"cand_{c:02d}",
                    **dict(zip(CLASSES, counts)),
                    "dbs": float(rng.uniform()),
                }
            )
    df = pd.DataFrame(rows)
    return load_table(df.drop(columns="dbs"), df[["task", "candidate", "dbs"]], CLASSES)


def test_load_table_normalises_counts_and_names_bad_rows():
    t = noise_table(0)
    assert np.allclose(t[CLASSES].sum(axis=1), 1.0)
    bad = pd.DataFrame([{"task": "code", "candidate": "c", **dict.fromkeys(CLASSES, 0)}])
    with pytest.raises(ValueError, match="positive sum"):
        load_table(bad, pd.DataFrame([{"task": "code", "candidate": "c", "dbs": 0.1}]), CLASSES)
    with pytest.raises(ValueError, match="lacks column"):
        load_table(bad.drop(columns="PASS"), bad.assign(dbs=0.1), CLASSES)


def test_in_sample_is_optimistic_on_pure_noise():
    maps = block_maps(CLASSES, 2048, 512, seed=0)
    gaps = []
    for seed in range(4):
        r = evaluate_search(noise_table(seed), maps, CLASSES, PAPER)
        assert r["in_sample"]["mean"] > 0.35  # a search always finds *something* on 8 points
        gaps.append(r["optimism"]["leave_one_task_out"])
        gaps.append(r["optimism"]["leave_one_candidate_out"])
        assert r["in_sample"]["mean"] == pytest.approx(r["train_objective"]["all"])
    assert np.mean(gaps) > 0.3  # held-out figures fall back towards 0


def test_held_out_rows_cannot_change_a_folds_choice():
    table = noise_table(7)
    maps = block_maps(CLASSES, 1024, 512, seed=1)
    folds = make_folds(table)
    chosen = select_maps(table, maps, CLASSES, folds)
    rng = np.random.default_rng(3)
    for fold in folds:
        if fold.kind == "in_sample":
            continue
        perturbed = table.copy()
        # Scramble everything the fold holds out: its DBS and its class fractions.
        perturbed.loc[fold.test, "dbs"] = rng.uniform(size=fold.test.sum())
        perturbed.loc[fold.test, CLASSES] = rng.dirichlet(np.ones(4), size=fold.test.sum())
        again = select_maps(perturbed, maps, CLASSES, [fold])
        np.testing.assert_array_equal(again[fold.name][0], chosen[fold.name][0])
    # ... whereas the in-sample choice does move when the same rows change.
    perturbed = table.copy()
    perturbed["dbs"] = rng.uniform(size=len(table))
    assert not np.array_equal(
        select_maps(perturbed, maps, CLASSES, folds[:1])["all"][0], chosen["all"][0]
    )


def test_paper_map_baseline_and_recovered_signal():
    # DBS driven by PASS share minus INCORRECT share: the search must find a map that ranks well
    # in-sample and held out, while the paper's map (PASS 0.05 < TASK_MISMATCH 0.35) does worse.
    rng = np.random.default_rng(11)
    rows = []
    for task in ("code", "finqa"):
        for c in range(8):
            f = rng.dirichlet(np.ones(4))
            rows.append(
                {
                    "task": task,
                    "candidate": f"cand_{c}",
                    **dict(zip(CLASSES, f)),
                    "dbs": f[3] - 0.5 * f[1] + rng.normal(0, 0.01),
                }
            )
    df = pd.DataFrame(rows)
    t = load_table(df.drop(columns="dbs"), df[["task", "candidate", "dbs"]], CLASSES)
    r = evaluate_search(t, block_maps(CLASSES, 2048, 512, 0), CLASSES, PAPER)
    assert r["leave_one_task_out"]["mean"] > 0.8
    assert r["leave_one_candidate_out"]["mean"] > 0.6  # maps differ per fold: noisier
    assert r["baseline"]["mean"] < r["leave_one_task_out"]["mean"]


def test_tune_search_matches_in_process_search(ray_session, tmp_path):
    from tgrd.downstream.mapsearch import search_score_map

    cfg = load_config(None, ["calibrate.num_samples=1024", "calibrate.maps_per_trial=512"])
    table = noise_table(5)
    tuned = search_score_map(table, cfg.calibrate, out_dir=tmp_path)
    local = evaluate_search(table, block_maps(CLASSES, 1024, 512, 0), CLASSES, PAPER)
    for key in ("in_sample", "leave_one_task_out", "leave_one_candidate_out", "baseline"):
        assert tuned[key]["per_task"] == pytest.approx(local[key]["per_task"])
    assert tuned["search"]["trials"] == 2
    assert (tmp_path / "calibration.json").is_file()
