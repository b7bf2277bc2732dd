"""Score-map calibration with honest held-out figures (pure core; Ray Tune drives it elsewhere).

    from tgrd.downstream.calibrate import load_table, make_folds, sample_maps, evaluate_search
    table = load_table("scores.parquet", "dbs.parquet", classes)   # task, candidate, classes.., dbs
    maps = sample_maps(256, classes, seed=0)                        # (M, C) scores in [0, 1]
    report = evaluate_search(table, maps, classes, baseline)

A score map gives each verifier class (and the gate failure) a scalar; a candidate's DVS is the
mean score of its instances, i.e. ``fractions @ map``. The map is chosen to maximise the mean
over tasks of Spearman(DVS, DBS). With K = 8 candidates per task any map chosen on the data it is
scored on looks better than it is (the paper's TASK_MISMATCH 0.35 > PASS 0.05 is such a map), so
the report keeps three figures apart:

- ``in_sample``: chosen and scored on every row (optimistic by construction);
- ``leave_one_task_out``: chosen on the other tasks, scored on the held-out task;
- ``leave_one_candidate_out``: for each candidate index, chosen on every row of the other
  candidates (all tasks, since the same recipe index recurs across tasks), then that candidate's
  DVS is computed with the chosen map; the held-out DVS of all candidates are ranked against DBS;
- ``baseline``: a fixed map (the paper's) scored on every row, with no fitting here.

Selection for a fold uses only :func:`train_objective` on that fold's training rows, so the
held-out rows cannot influence which map a fold picks (tests check this by perturbing them).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from tgrd.downstream import stable_seed

KEY = ["task", "candidate"]


def _read(path: str | Path) -> pd.DataFrame:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: not found")
    if p.suffix == ".parquet":
        return pd.read_parquet(p)
    if p.suffix == ".csv":
        return pd.read_csv(p)
    if p.suffix in (".jsonl", ".json"):
        return pd.read_json(p, lines=p.suffix == ".jsonl")
    raise ValueError(f"{p}: expected .parquet, .csv, .json or .jsonl")


def load_table(
    scores: str | Path | pd.DataFrame, dbs: str | Path | pd.DataFrame, classes: list[str]
) -> pd.DataFrame:
    """Join per-candidate class counts (or fractions) with DBS; counts become fractions.

    ``scores`` needs ``task``, ``candidate`` and one column per class (optionally a ``verifier``
    column, one calibration per verifier); ``dbs`` needs ``task``, ``candidate``, ``dbs``.
    """
    s = scores if isinstance(scores, pd.DataFrame) else _read(scores)
    d = dbs if isinstance(dbs, pd.DataFrame) else _read(dbs)
    for name, frame, need in (("scores", s, [*KEY, *classes]), ("dbs", d, [*KEY, "dbs"])):
        missing = [c for c in need if c not in frame.columns]
        if missing:
            raise ValueError(f"{name} table lacks column(s) {missing} (has {list(frame.columns)})")
    table = s.merge(d[[*KEY, "dbs"]], on=KEY, how="inner", validate="many_to_one")
    unmatched = len(s) - len(table)
    if unmatched:
        raise ValueError(f"{unmatched} scores row(s) have no DBS for their (task, candidate)")
    counts = table[classes].to_numpy(dtype=np.float64)
    total = counts.sum(axis=1)
    if (counts < 0).any() or (total <= 0).any():
        bad = table.loc[(total <= 0) | (counts < 0).any(axis=1), KEY].to_dict("records")
        raise ValueError(f"class counts must be non-negative with a positive sum: {bad}")
    table[classes] = counts / total[:, None]
    return table.sort_values(KEY).reset_index(drop=True)


def sample_maps(n: int, classes: list[str], seed: int, block: int = 0) -> np.ndarray:
    """``(n, C)`` random maps in canonical form; block ``b`` of a search is its own stream.

    A ranking by ``fractions @ map`` does not change when a constant is added to every score or
    all are scaled by a positive factor (the fractions sum to 1). Maps are therefore stretched
    so that the lowest class scores 0 and the highest 1: equivalent maps then give identical DVS,
    which the leave-one-candidate-out assembly needs (DVS computed under different folds' maps
    are ranked together), and the reported maps are comparable at a glance.
    """
    rng = np.random.default_rng(stable_seed("score-map", seed, block))
    return canonical(rng.uniform(0.0, 1.0, size=(n, len(classes))))


def canonical(maps: np.ndarray) -> np.ndarray:
    """Min-max stretch of each map (row) to [0, 1]; a constant map becomes all zeros."""
    lo = maps.min(axis=-1, keepdims=True)
    span = maps.max(axis=-1, keepdims=True) - lo
    return np.where(span > 0, (maps - lo) / np.where(span > 0, span, 1.0), 0.0)


def search_blocks(num_samples: int, maps_per_trial: int) -> int:
    """How many blocks (Tune trials) of ``maps_per_trial`` maps cover ``num_samples`` maps."""
    return max(1, -(-num_samples // maps_per_trial))


def block_maps(classes: list[str], num_samples: int, maps_per_trial: int, seed: int) -> np.ndarray:
    """Every map a search draws, blocks in order: what the Tune trials evaluate, concatenated."""
    n = search_blocks(num_samples, maps_per_trial)
    return np.concatenate([sample_maps(maps_per_trial, classes, seed, b) for b in range(n)])


def spearman_rows(dvs: np.ndarray, dbs: np.ndarray) -> np.ndarray:
    """Spearman of every row of ``dvs`` ``(M, n)`` against ``dbs`` ``(n,)``; 0 where undefined."""
    rx = stats.rankdata(dvs, axis=1)
    ry = stats.rankdata(dbs)
    rx = rx - rx.mean(axis=1, keepdims=True)
    ry = ry - ry.mean()
    den = np.sqrt((rx**2).sum(axis=1) * (ry**2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (rx @ ry) / den
    # A map that ties every candidate ranks nothing: it gets 0, not NaN.
    return np.where(den > 0, rho, 0.0)


def train_objective(
    table: pd.DataFrame, maps: np.ndarray, classes: list[str], rows: np.ndarray
) -> np.ndarray:
    """Mean over tasks of Spearman(DVS, DBS) on the boolean-selected ``rows``, for every map."""
    part = table[rows]
    per_task = []
    for _, t in part.groupby("task", sort=True):
        if len(t) < 2:
            continue
        dvs = maps @ t[classes].to_numpy().T  # (M, n)
        per_task.append(spearman_rows(dvs, t["dbs"].to_numpy()))
    if not per_task:
        raise ValueError("a training fold has no task with 2 or more candidates")
    return np.mean(per_task, axis=0)


@dataclass(frozen=True)
class Fold:
    name: str
    kind: str  # in_sample | leave_one_task_out | leave_one_candidate_out
    train: np.ndarray  # boolean row mask
    test: np.ndarray


def make_folds(table: pd.DataFrame) -> list[Fold]:
    """The in-sample fold, one fold per task (LOTO) and one per candidate name (LOCO)."""
    every = np.ones(len(table), dtype=bool)
    folds = [Fold("all", "in_sample", every, every)]
    tasks = sorted(table["task"].unique())
    if len(tasks) >= 2:
        for t in tasks:
            test = (table["task"] == t).to_numpy()
            folds.append(Fold(f"task={t}", "leave_one_task_out", ~test, test))
    for c in sorted(table["candidate"].unique()):
        test = (table["candidate"] == c).to_numpy()
        folds.append(Fold(f"candidate={c}", "leave_one_candidate_out", ~test, test))
    return folds


def per_task_spearman(table: pd.DataFrame, dvs: np.ndarray) -> dict[str, float]:
    out = {}
    for task, idx in table.groupby("task", sort=True).indices.items():
        out[str(task)] = float(spearman_rows(dvs[idx][None, :], table["dbs"].to_numpy()[idx])[0])
    return out


def _summary(per_task: dict[str, float]) -> dict[str, object]:
    return {"per_task": per_task, "mean": float(np.mean(list(per_task.values())))}


def evaluate_selection(
    table: pd.DataFrame,
    classes: list[str],
    chosen: dict[str, np.ndarray],
    folds: list[Fold],
    baseline: dict[str, float],
) -> dict[str, object]:
    """Held-out figures of the maps ``chosen[fold.name]`` (each picked on its training rows)."""
    frac = table[classes].to_numpy()
    base = np.array([baseline.get(c, 0.0) for c in classes])
    report: dict[str, object] = {
        "classes": classes,
        "k_rows": len(table),
        "baseline": {
            "map": dict(zip(classes, base.tolist(), strict=True)),
            **_summary(per_task_spearman(table, frac @ base)),
        },
    }
    by_kind: dict[str, list[Fold]] = {}
    for f in folds:
        by_kind.setdefault(f.kind, []).append(f)
    for kind, fs in by_kind.items():
        if kind == "in_sample":
            m = chosen[fs[0].name]
            report[kind] = {
                "map": dict(zip(classes, m.tolist(), strict=True)),
                **_summary(per_task_spearman(table, frac @ m)),
            }
        elif kind == "leave_one_task_out":
            per_task, maps = {}, {}
            for f in fs:
                m = chosen[f.name]
                per_task.update(per_task_spearman(table[f.test], frac[f.test] @ m))
                maps[f.name] = dict(zip(classes, m.tolist(), strict=True))
            report[kind] = {"maps": maps, **_summary(per_task)}
        else:  # leave-one-candidate-out: assemble every candidate's held-out DVS, then rank
            held = np.full(len(table), np.nan)
            maps = {}
            for f in fs:
                held[f.test] = frac[f.test] @ chosen[f.name]
                maps[f.name] = dict(zip(classes, chosen[f.name].tolist(), strict=True))
            report[kind] = {"maps": maps, **_summary(per_task_spearman(table, held))}
    if "in_sample" in report:
        report["optimism"] = {
            k: report["in_sample"]["mean"] - report[k]["mean"]  # type: ignore[index]
            for k in ("leave_one_task_out", "leave_one_candidate_out")
            if k in report
        }
    return report


def select_maps(
    table: pd.DataFrame, maps: np.ndarray, classes: list[str], folds: list[Fold]
) -> dict[str, tuple[np.ndarray, float]]:
    """Per fold, the map with the best training objective (first one on ties) and that value."""
    out = {}
    for f in folds:
        obj = train_objective(table, maps, classes, f.train)
        i = int(np.argmax(obj))
        out[f.name] = (maps[i], float(obj[i]))
    return out


def evaluate_search(
    table: pd.DataFrame, maps: np.ndarray, classes: list[str], baseline: dict[str, float]
) -> dict[str, object]:
    """Select per fold among ``maps`` (in process, no Ray) and report held-out figures."""
    folds = make_folds(table)
    chosen = select_maps(table, maps, classes, folds)
    report = evaluate_selection(
        table, classes, {k: v[0] for k, v in chosen.items()}, folds, baseline
    )
    report["train_objective"] = {k: v[1] for k, v in chosen.items()}
    return report
