"""Dataset scoring (TGRD step 4): sample m per candidate, gate, classify, average the score map.

    tgrd score --config configs/student_smoke.yaml --candidates runs/x/synth/code/candidates \\
        --student runs/x/distill --out runs/x/score

    from tgrd.student.score import run_score
    summary = run_score(cfg, ["runs/x/synth/code/candidates"], "runs/x/distill", "runs/x/score")

DVS(D_k) = (1/m) Σ s(x_i) over a seeded sample of m instances of candidate D_k (paper: m=128):
s = score_map[GATE_FAIL] for a gate failure, else score_map[predicted class] (DESIGN.md §1).
Verifier ``tool+distilled`` (3-way student): gates first, only gate-passing instances reach the
student. Verifier ``distill-5way`` (5-way student): no gates, the student sees every record.
Rows that never became records (ingest quarantine: bad JSON, unknown shape...) are part of the
sample population in both cases and count as gate failures (``quarantine:<reason>``): an
unreadable row is worthless training data and must not vanish from the denominator.

The sample is seeded by (score.seed, crc32(candidate name)), so it is the same in every process
and independent of the other candidates. Outputs: ``scores.json`` (candidate → DVS, class
counts, gate counts) and ``predictions.parquet`` (one row per sampled instance).
"""

from __future__ import annotations

import json
import time
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tgrd import rundir
from tgrd.config import Config
from tgrd.gates import gate_table
from tgrd.ingest import discover_inputs, read_records
from tgrd.student.settings import GATE_FAIL

VERIFIERS = {"3way": "tool+distilled", "5way": "distill-5way"}


def candidate_files(paths: list[str | Path]) -> dict[str, Path]:
    """Candidate name → file. A file inside ``<task>/candidates/`` is named ``<task>/<stem>``.

    Raises:
        ValueError: two files map to the same name.
    """
    out: dict[str, Path] = {}
    for f in discover_inputs(paths):
        stem = f.name.split(".")[0]
        name = f"{f.parent.parent.name}/{stem}" if f.parent.name == "candidates" else stem
        if name in out:
            raise ValueError(f"candidate name {name!r} given by both {out[name]} and {f}")
        out[name] = f
    return out


def sample_indices(n: int, m: int, seed: int, name: str) -> np.ndarray:
    """Sorted positions of a seeded sample of min(m, n) out of n, stable across processes."""
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    return np.sort(rng.choice(n, size=min(m, n), replace=False))


def dataset_value_score(outcomes: list[str], score_map: dict[str, float]) -> float:
    """Mean of ``score_map`` over per-instance outcomes (a class name or ``GATE_FAIL``).

    Raises:
        ValueError: an outcome the score map does not cover.
    """
    missing = sorted(set(outcomes) - set(score_map))
    if missing:
        raise ValueError(f"score.score_map has no entry for {missing}")
    return float(np.mean([score_map[o] for o in outcomes])) if outcomes else float("nan")


def sample_candidate(name: str, path: Path, cfg: Config, gates: bool) -> pa.Table:
    """The m sampled rows of one candidate: id, candidate, messages, gate_reason ('' = pass)."""
    records, quarantine = read_records([path], cfg.ingest)
    if gates:
        records = gate_table(records, cfg.gates)
        reasons = records.column("gate_reason").to_pylist()
    else:
        reasons = [""] * records.num_rows
    q_ids = [
        i or f"{s}:{ln}"
        for i, s, ln in zip(
            *(quarantine.column(c).to_pylist() for c in ("id", "source", "line")), strict=True
        )
    ]
    ids = records.column("id").to_pylist() + q_ids
    messages = records.column("messages").to_pylist() + [None] * quarantine.num_rows
    reasons = reasons + [f"quarantine:{r}" for r in quarantine.column("reason").to_pylist()]
    pick = sample_indices(len(ids), cfg.score.m, cfg.score.seed, name)
    return pa.table(
        {
            "id": [ids[i] for i in pick],
            "candidate": [name] * len(pick),
            "messages": pa.array(
                [messages[i] for i in pick], type=records.schema.field("messages").type
            ),
            "gate_reason": [reasons[i] for i in pick],
        }
    )


def classify(sampled: pa.Table, student_dir: str | Path, cfg: Config, use_ray: bool) -> pa.Table:
    """Run the student over rows with an empty gate_reason; gate failures keep null predictions."""
    from tgrd.student.predict import StudentPredictor, predict_dataset

    passing = pc.equal(sampled.column("gate_reason"), "")
    todo, failed = sampled.filter(passing), sampled.filter(pc.invert(passing))
    if use_ray:
        from tgrd.raysession import ensure_ray

        ensure_ray(cfg.ray)
        done = predict_dataset(todo, student_dir, cfg.score)
    else:
        done = StudentPredictor(
            student_dir, cfg.score.batch_size, cfg.score.length_bucketing, threads=cfg.score.threads
        )(todo)
    extra = [f for f in done.schema if f.name not in sampled.column_names]
    failed = failed.append_column("predicted", pa.nulls(failed.num_rows, pa.string()))
    for f in extra[1:]:
        failed = failed.append_column(f, pa.nulls(failed.num_rows, f.type))
    return pa.concat_tables([done, failed.select(done.column_names)])


def summarize(pred: pa.Table, score_map: dict[str, float]) -> dict[str, Any]:
    """Per-candidate DVS, class counts and gate-failure counts by reason."""
    out: dict[str, Any] = {}
    cands = pred.column("candidate").to_pylist()
    preds, reasons = pred.column("predicted").to_pylist(), pred.column("gate_reason").to_pylist()
    for name in sorted(set(cands)):
        rows = [i for i, c in enumerate(cands) if c == name]
        outcomes = [GATE_FAIL if reasons[i] else preds[i] for i in rows]
        out[name] = {
            "dvs": dataset_value_score(outcomes, score_map),
            "m": len(rows),
            "class_counts": dict(sorted(Counter(o for o in outcomes if o != GATE_FAIL).items())),
            "gate_fail": outcomes.count(GATE_FAIL),
            "gate_counts": dict(sorted(Counter(reasons[i] for i in rows if reasons[i]).items())),
        }
    return out


def run_score(
    cfg: Config,
    candidates: list[str | Path],
    student_dir: str | Path,
    out_dir: str | Path,
    use_ray: bool | None = None,
) -> dict[str, Any]:
    """Score every candidate; writes ``scores.json`` and ``predictions.parquet`` in ``out_dir``."""
    from tgrd.student.model import META_FILE

    files = candidate_files(candidates)
    root = Path(student_dir)
    meta_path = root / META_FILE if (root / META_FILE).is_file() else root / "student" / META_FILE
    if not meta_path.is_file():
        raise FileNotFoundError(
            f"{student_dir}: no trained student ({META_FILE}); run `tgrd distill` first"
        )
    labels = json.loads(meta_path.read_text())["student"]["data"]["labels"]
    use_ray = cfg.score.use_ray if use_ray is None else use_ray
    out = Path(out_dir)
    settings = {
        "score": cfg.score.model_dump(mode="json"),
        "gates": cfg.gates.model_dump(),
        "ingest": cfg.ingest.model_dump(),
    }
    stage_fp = rundir.fingerprint(
        settings, list(files.values()) + sorted(meta_path.parent.rglob("*.safetensors"))
    )
    if rundir.is_done(out, stage_fp) and (out / "scores.json").is_file():
        return {**json.loads((out / "scores.json").read_text()), "skipped": True}
    rundir.prepare(out, cfg)
    start = time.perf_counter()
    sampled = pa.concat_tables(
        [sample_candidate(n, p, cfg, gates=labels == "3way") for n, p in files.items()]
    )
    pred = classify(sampled, meta_path.parent, cfg, use_ray)
    outcome = pa.array(
        [
            GATE_FAIL if r else p
            for r, p in zip(
                pred.column("gate_reason").to_pylist(),
                pred.column("predicted").to_pylist(),
                strict=True,
            )
        ]
    )
    missing = sorted(set(outcome.to_pylist()) - set(cfg.score.score_map))
    if missing:
        raise ValueError(f"score.score_map has no entry for {missing}")
    pred = pred.append_column(
        "score", pa.array([cfg.score.score_map[o] for o in outcome.to_pylist()], pa.float64())
    )
    pred = pred.drop_columns(["messages"]).sort_by(
        [("candidate", "ascending"), ("id", "ascending")]
    )
    pq.write_table(pred, out / "predictions.parquet")
    summary = {
        "verifier": VERIFIERS[labels],
        "m": cfg.score.m,
        "seed": cfg.score.seed,
        "score_map": cfg.score.score_map,
        "candidates": summarize(pred, cfg.score.score_map),
        "files": {n: str(p) for n, p in files.items()},
        "seconds": round(time.perf_counter() - start, 2),
        "engine": "ray" if use_ray else "local",
    }
    (out / "scores.json").write_text(json.dumps(summary, indent=2))
    rundir.mark_done(out, stage_fp)
    return summary
