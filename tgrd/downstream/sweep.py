"""The ground-truth grid on Ray Tune: candidates × seeds × tasks, one fine-tune per trial.

    from tgrd.downstream.sweep import run_sweep
    dbs = run_sweep("runs/demo/synth", "runs/demo/groundtruth", cfg.downstream)

Each trial fine-tunes the base on one candidate with one seed and scores the task's benchmark
(:func:`tgrd.downstream.finetune.finetune_and_score`). Trials ask for ``cpus_per_trial`` CPUs
and ``gpus_per_trial`` GPUs (a fraction packs several on one device). Tune persists the
experiment under ``OUT/tune``; a failed trial is retried ``max_failures`` times; calling
:func:`run_sweep` again on the same ``OUT`` restores the experiment (``Tuner.restore``) and runs
only the trials that did not finish. Outputs: ``runs.parquet`` (one row per trial) and
``dbs.parquet`` (per task and candidate: mean over seeds and the seed std).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from tgrd.downstream.settings import DownstreamConfig
    from tgrd.storage import Mirror

EXPERIMENT = "tune"


class SweepError(RuntimeError):
    """Some trials failed after their retries; finished trials are kept for the next resume."""


def grid_cells(synth_dir: str | Path, cfg: DownstreamConfig) -> list[dict[str, str]]:
    """``{task, candidate, candidate_path, benchmark_path}`` for every (task, candidate)."""
    root = Path(synth_dir).resolve()
    cells = []
    for task in cfg.tasks:
        bench = root / task / "benchmark.jsonl"
        if not bench.is_file():
            raise FileNotFoundError(f"{bench}: benchmark of task {task!r} not found")
        names = cfg.candidates or sorted(
            p.stem for p in (root / task / "candidates").glob("*.jsonl")
        )
        if not names:
            raise FileNotFoundError(f"{root / task / 'candidates'}: no candidate *.jsonl files")
        for name in names:
            path = root / task / "candidates" / f"{name}.jsonl"
            if not path.is_file():
                raise FileNotFoundError(f"{path}: candidate {name!r} of task {task!r} not found")
            cells.append(
                {
                    "task": task,
                    "candidate": name,
                    "candidate_path": str(path),
                    "benchmark_path": str(bench),
                }
            )
    return cells


def downstream_trial(
    config: dict[str, Any],
    settings: dict[str, Any],
    cache_dir: str,
    cells: dict[str, dict[str, str]],
    mirror: Mirror | None = None,
) -> None:
    """Ray Tune function trainable: one (task, candidate, seed) fine-tune and evaluation.

    ``config`` holds the grid point (``cell`` = "task/candidate", ``seed``); ``cells`` maps a cell
    to its files, so trial names and the experiment state stay short. With a run mirrored to a
    URI (``mirror``), the files are fetched onto this trial's node first.
    """
    from ray import tune

    from tgrd.downstream.settings import DownstreamConfig
    from tgrd.storage import localize

    cfg = DownstreamConfig.model_validate(settings)
    cell, seed = dict(cells[config["cell"]]), int(config["seed"])
    for key in ("candidate_path", "benchmark_path"):
        cell[key] = str(localize(cell[key], mirror))
    if mirror is not None and cfg.model != "hf_lora":
        from tgrd.downstream.pretrain import base_key

        with contextlib.suppress(FileNotFoundError):  # not published: trained below instead
            mirror.localize(Path(cache_dir) / f"{base_key(cfg, seed)}.pt")
    t0 = time.perf_counter()
    if cfg.model == "hf_lora":
        from tgrd.downstream.hflora import finetune_and_score_hf

        row = finetune_and_score_hf(
            cell["task"], cell["candidate_path"], cell["benchmark_path"], cfg, seed
        )
    else:
        from tgrd.downstream.finetune import finetune_and_score
        from tgrd.downstream.pretrain import pretrained_base

        base = pretrained_base(cache_dir, cfg, seed)
        row = finetune_and_score(
            cell["task"], cell["candidate_path"], cell["benchmark_path"], cfg, seed, base
        )
    row.update(
        task=cell["task"],
        candidate=cell["candidate"],
        seed=seed,
        trial_s=round(time.perf_counter() - t0, 3),
    )
    tune.report(row)


def _trial_dirname(trial: Any) -> str:
    cell = str(trial.config["cell"]).replace("/", "_")
    return f"{cell}_seed{trial.config['seed']}_{trial.trial_id}"


def _forget_stale_experiment(out: Path, cfg: DownstreamConfig, cells: dict[str, Any]) -> None:
    """Delete a Tune experiment made for another grid or settings: restoring it would be wrong.

    ``Tuner.restore`` resumes the *saved* param space and trainable arguments, so a changed
    config would silently resume the old sweep. The grid's fingerprint is kept beside it.
    """
    from tgrd.rundir import fingerprint
    from tgrd.storage import delete_tree, storage_path

    stamp = out / "grid_fingerprint.txt"
    # File names, not absolute paths: a run pulled from its URI into another staging directory
    # is the same grid (the files' contents are the groundtruth stage's own fingerprint).
    names = {
        key: {k: Path(v).name if k.endswith("_path") else v for k, v in cell.items()}
        for key, cell in cells.items()
    }
    fp = fingerprint({"settings": cfg.model_dump(mode="json"), "cells": names})
    if stamp.is_file() and stamp.read_text().strip() != fp:
        delete_tree(storage_path(out / EXPERIMENT))
    stamp.write_text(fp + "\n")


def pretrain_bases(cache_dir: Path, cfg: DownstreamConfig) -> None:
    """Train the missing per-seed bases in parallel as Ray tasks (before any trial needs one)."""
    import ray

    from tgrd.storage import active_mirror

    if cfg.model != "chargpt":
        return
    task = ray.remote(num_cpus=cfg.cpus_per_trial, num_gpus=0)(_pretrain_and_publish)
    ray.get([task.remote(str(cache_dir), cfg, s, active_mirror()) for s in cfg.seeds])


def _pretrain_and_publish(
    cache_dir: str, cfg: DownstreamConfig, seed: int, mirror: Mirror | None
) -> str:
    """Train (or reuse) one base; with a mirrored run, upload it for trials on other nodes."""
    from tgrd.downstream.pretrain import pretrained_base

    path = pretrained_base(cache_dir, cfg, seed)
    if mirror is not None:
        mirror.publish(path)
        mirror.publish(path.with_suffix(".json"))
    return str(path)


def run_sweep(
    synth_dir: str | Path,
    out_dir: str | Path,
    cfg: DownstreamConfig,
    *,
    trainable: Callable[..., None] | None = None,
) -> pd.DataFrame:
    """Run (or resume) the grid and write ``runs.parquet`` and ``dbs.parquet`` under ``out_dir``.

    Args:
        synth_dir: directory with ``<task>/candidates/*.jsonl`` and ``<task>/benchmark.jsonl``.
        out_dir: stage directory; Tune's experiment lives in ``out_dir/tune``.
        cfg: the ``downstream`` config section.
        trainable: replaces :func:`downstream_trial` (same signature), e.g. to inject faults.

    Returns:
        The DBS table (see :func:`tgrd.downstream.dbs.dbs_table`).

    Raises:
        SweepError: trials still failing after their retries (rerun to resume).
    """
    import pandas as pd
    from ray import tune

    from tgrd.downstream.dbs import dbs_table
    from tgrd.storage import active_mirror, storage_path

    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    cache = out / "pretrain"
    mirror = active_mirror()
    cells = grid_cells(synth_dir, cfg)
    t0 = time.perf_counter()
    pretrain_bases(cache, cfg)
    pretrain_s = time.perf_counter() - t0
    by_name = {f"{c['task']}/{c['candidate']}": c for c in cells}
    fn = tune.with_parameters(
        trainable or downstream_trial,
        settings=cfg.model_dump(mode="json"),
        cache_dir=str(cache),
        cells=by_name,
        # Only for a mirrored run, so a custom ``trainable`` need not know about mirrors.
        **({"mirror": mirror} if mirror is not None else {}),
    )
    resources = {"cpu": cfg.cpus_per_trial, "gpu": cfg.gpus_per_trial}
    fn = tune.with_resources(fn, resources)
    # Tune keeps the experiment at OUT/tune, or at the run's URI when it is mirrored to one.
    path = storage_path(out / EXPERIMENT)
    _forget_stale_experiment(out, cfg, by_name)
    if tune.Tuner.can_restore(path):
        # Finished trials keep their results; errored ones run again from scratch.
        tuner = tune.Tuner.restore(path, trainable=fn, resume_errored=True)
    else:
        tuner = tune.Tuner(
            fn,
            param_space={
                "cell": tune.grid_search(list(by_name)),
                "seed": tune.grid_search(cfg.seeds),
            },
            tune_config=tune.TuneConfig(
                trial_dirname_creator=_trial_dirname, reuse_actors=cfg.reuse_actors
            ),
            run_config=tune.RunConfig(
                name=EXPERIMENT,
                storage_path=storage_path(out),
                failure_config=tune.FailureConfig(max_failures=cfg.max_failures),
                verbose=0,
            ),
        )
    t1 = time.perf_counter()
    grid = tuner.fit()
    sweep_s = time.perf_counter() - t1
    rows, failed = [], []
    for result in grid:
        cell, seed = result.config["cell"], result.config["seed"]
        if result.error is not None or "score" not in (result.metrics or {}):
            failed.append(f"{cell}/seed{seed}: {result.error!r}")
            continue
        rows.append(
            {
                k: result.metrics[k]
                for k in (
                    "task",
                    "candidate",
                    "seed",
                    "score",
                    "n_benchmark",
                    "n_train",
                    "n_quarantined",
                    "train_loss_first",
                    "train_loss_last",
                    "train_s",
                    "eval_s",
                    "trial_s",
                )
                if k in result.metrics
            }
        )
    runs = pd.DataFrame(rows)
    if not runs.empty:
        runs = runs.sort_values(["task", "candidate", "seed"]).reset_index(drop=True)
        runs.to_parquet(out / "runs.parquet", index=False)
    if failed:
        raise SweepError(
            f"{len(failed)} trial(s) failed after retries (rerun to resume):\n  "
            + "\n  ".join(failed)
        )
    dbs = dbs_table(runs)
    dbs.to_parquet(out / "dbs.parquet", index=False)
    timing = {
        "pretrain_s": round(pretrain_s, 2),
        "sweep_s": round(sweep_s, 2),
        "trials": len(runs),
        "sum_trial_s": round(float(runs["trial_s"].sum()), 2),
    }
    pd.Series(timing).to_json(out / "timing.json", indent=2)
    return dbs
