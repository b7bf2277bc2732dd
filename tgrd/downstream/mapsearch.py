"""Score-map search on Ray Tune: sampled maps scored on every fold's training rows, in parallel.

    from tgrd.downstream.mapsearch import search_score_map
    report = search_score_map(table, cfg.calibrate, out_dir="runs/demo/calibrate")

The search space is one score in [0, 1] per class (gate failure included). Each Tune trial takes
a block of ``maps_per_trial`` random maps (its own seeded stream), computes for every fold the
*training* objective (mean over the fold's training tasks of Spearman(DVS, DBS)) and reports, per
fold, the best map of its block. The driver then takes, per fold, the best over all trials and
only then scores that map on the held-out rows (tgrd/downstream/calibrate.py). Trials never
report a held-out figure, so no held-out number can steer the choice. A block of maps per trial
(rather than one map per trial) keeps Tune's per-trial overhead small against numpy's cost of a
few microseconds per map.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tgrd.downstream.calibrate import (
    evaluate_selection,
    make_folds,
    sample_maps,
    search_blocks,
    train_objective,
)

if TYPE_CHECKING:
    import pandas as pd

    from tgrd.downstream.settings import CalibrateConfig


def map_block_trial(
    config: dict[str, Any],
    table_records: list[dict],
    classes: list[str],
    maps_per_trial: int,
    seed: int,
) -> None:
    """Ray Tune trainable: best map of one block per fold, judged on training rows only."""
    import pandas as pd
    from ray import tune

    table = pd.DataFrame.from_records(table_records)
    maps = sample_maps(maps_per_trial, classes, seed, block=int(config["block"]))
    metrics: dict[str, Any] = {}
    for f in make_folds(table):
        obj = train_objective(table, maps, classes, f.train)
        i = int(np.argmax(obj))
        metrics[f"train_objective/{f.name}"] = float(obj[i])
        metrics[f"map/{f.name}"] = maps[i].tolist()
    tune.report(metrics)


def search_score_map(
    table: pd.DataFrame, cfg: CalibrateConfig, out_dir: str | Path | None = None
) -> dict[str, object]:
    """Run the search on Tune and return the cross-validated report (see calibrate.py)."""
    from ray import tune

    from tgrd.storage import storage_path

    classes = list(cfg.classes)
    n_trials = search_blocks(cfg.num_samples, cfg.maps_per_trial)
    fn = tune.with_parameters(
        map_block_trial,
        table_records=table.to_dict("records"),
        classes=classes,
        maps_per_trial=cfg.maps_per_trial,
        seed=cfg.seed,
    )
    fn = tune.with_resources(fn, {"cpu": cfg.cpus_per_trial})
    # Tune's state beside the stage's outputs, or at the run's URI when mirrored (tgrd/storage.py).
    storage = storage_path(out_dir) if out_dir is not None else None
    tuner = tune.Tuner(
        fn,
        param_space={"block": tune.grid_search(list(range(n_trials)))},
        run_config=tune.RunConfig(
            name="mapsearch",
            storage_path=storage,
            verbose=0,
            failure_config=tune.FailureConfig(max_failures=1),
        ),
    )
    grid = tuner.fit()
    errors = [r.error for r in grid if r.error is not None]
    if errors:
        raise RuntimeError(f"score-map search: {len(errors)} trial(s) failed: {errors[0]!r}")
    folds = make_folds(table)
    chosen: dict[str, np.ndarray] = {}
    best: dict[str, float] = {}
    # Blocks in order, strict improvement: the same maps give the same choice every run.
    for r in sorted(grid, key=lambda r: r.config["block"]):
        for f in folds:
            obj = r.metrics[f"train_objective/{f.name}"]
            if f.name not in best or obj > best[f.name]:
                best[f.name] = obj
                chosen[f.name] = np.asarray(r.metrics[f"map/{f.name}"])
    report = evaluate_selection(table, classes, chosen, folds, dict(cfg.baseline))
    report["train_objective"] = best
    report["search"] = {
        "maps": n_trials * cfg.maps_per_trial,
        "trials": n_trials,
        "maps_per_trial": cfg.maps_per_trial,
        "seed": cfg.seed,
    }
    if out_dir is not None:
        Path(out_dir, "calibration.json").write_text(json.dumps(report, indent=2))
    return report
