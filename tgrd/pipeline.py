"""The end-to-end TGRD pipeline, stage by stage, under one run directory.

    tgrd run --config configs/demo.yaml          # or: python jobs/pipeline.py --config ...

Stages (``pipeline.stages``; each writes RUN_DIR/<stage>/... and is skipped when its outputs
exist and match the config, so a killed run resumes where it stopped):

1. ``synth``       the synthetic benchmark (tgrd/synth), when ``pipeline.source`` is ``synth``;
                   ``inputs`` gates the user's ``ingest.inputs``, ``examples`` the bundled files.
2. ``gate``        ingest + tool gates per task over the training pool and the candidates.
3. ``label``       teacher labels on the pooled training instances: 3-way on gate-passing ones
                   (TGRD) and 5-way on all of them (the distill-5way ablation).
4. ``distill``     the 3-way and 5-way students on Ray Train.
5. ``score``       the four verifiers on every candidate: tool+distilled and distill-5way (the
                   students, zero teacher calls) and llm-only and tool+llm (the teacher).
6. ``groundtruth`` downstream fine-tunes candidates × seeds × tasks on Ray Tune → DBS.
7. ``calibrate``   cross-validated score-map search per verifier.
8. ``report``      report.md, metrics.json and plots (tgrd/report.py).

The teacher is whatever ``teacher.base_url`` (or ``$OPENAI_BASE_URL``) names; with neither, the
pipeline starts the local simulated teacher (tgrd/teacher/server.py) for the stages that need it
and stops it afterwards, so the demo needs no API key.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from tgrd.config import Config

STAGES = ("synth", "gate", "label", "distill", "score", "groundtruth", "calibrate", "report")
TEACHER_STAGES = {"label", "score"}
RUBRICS = ("3way", "5way")
STUDENT_VERIFIER = {"3way": "tool+distilled", "5way": "distill-5way"}
TEACHER_VERIFIERS = ("llm-only", "tool+llm")
# 5-way structural classes are what the gates catch: calibrate maps them onto GATE_FAIL.
STRUCTURAL = {"EMPTY_OR_TRUNCATED", "DEGENERATE", "MALFORMED"}


def bundled_examples() -> Path:
    """Directory of the small example files shipped inside the package."""
    return Path(str(resources.files("tgrd") / "examples"))


def synth_stage(cfg: Config, out: Path) -> dict[str, Any]:
    from tgrd import rundir
    from tgrd.synth.generate import generate

    stage_fp = rundir.fingerprint({"synth": cfg.synth.model_dump()})
    if rundir.is_done(out, stage_fp) and (out / "manifest.json").is_file():
        return {"skipped": True, "out": str(out)}
    start = time.perf_counter()
    manifest = generate(cfg.synth, out)
    rundir.mark_done(out, stage_fp)
    return {
        "out": str(out),
        "seconds": round(time.perf_counter() - start, 3),
        "tasks": {
            t: {d: v["size"] for d, v in info["datasets"].items()}
            for t, info in manifest["tasks"].items()
        },
    }


def task_inputs(cfg: Config, run_dir: Path) -> dict[str, list[str]]:
    """Files to gate, grouped by task ("all" when the source has no task split)."""
    if cfg.pipeline.source == "inputs":
        if not cfg.ingest.inputs:
            raise ValueError("pipeline.source=inputs needs ingest.inputs (files or directories)")
        return {"all": list(cfg.ingest.inputs)}
    if cfg.pipeline.source == "examples":
        return {"all": [str(bundled_examples())]}
    synth_dir = run_dir / "synth"
    # The pool and the candidates, never benchmark.jsonl (held out; and not training records).
    return {
        task: [str(synth_dir / task / "pool.jsonl"), str(synth_dir / task / "candidates")]
        for task in cfg.synth.tasks
    }


def candidate_dirs(cfg: Config, run_dir: Path) -> list[Path]:
    return [run_dir / "synth" / task / "candidates" for task in cfg.synth.tasks]


@contextlib.contextmanager
def teacher_endpoint(cfg: Config, run_dir: Path) -> Iterator[Config]:
    """Yield a config whose teacher points at a live endpoint, starting the local one if needed."""
    if cfg.teacher.base_url or os.environ.get("OPENAI_BASE_URL"):
        yield cfg
        return
    from tgrd.teacher.server import LocalTeacher

    local = cfg.teacher.local
    if local.truth is None and local.answer_key is None and cfg.pipeline.source == "synth":
        # The simulated teacher knows the planted classes; noise and bias make it imperfect.
        local = local.model_copy(update={"truth": str(run_dir / "synth" / "truth.parquet")})
    teacher = cfg.teacher.model_copy(
        update={
            "model": "local-teacher",
            # Labels of a simulated teacher belong to this run, not to a shared cache.
            "cache_path": str(run_dir / "label" / "teacher_cache.sqlite"),
            "local": local,
        }
    )
    server = LocalTeacher(local).start()
    try:
        yield cfg.model_copy(
            update={"teacher": teacher.model_copy(update={"base_url": server.base_url})}
        )
    finally:
        server.stop()


def _teacher_settings(cfg: Config) -> dict[str, Any]:
    # The local teacher's port changes every run: it must not invalidate finished stages.
    return cfg.teacher.model_dump(mode="json", exclude={"base_url"})


def pooled_training_records(run_dir: Path, cfg: Config) -> Path:
    """The gated training pool of every task in one Parquet file (the student trains on all)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    out = run_dir / "label" / "pool_gated.parquet"
    parts = []
    for task in task_inputs(cfg, run_dir):
        gated = pq.read_table(run_dir / "gate" / task / "gated.parquet")
        if cfg.pipeline.source == "synth":
            gated = gated.filter(pc.ends_with(gated.column("source"), "pool.jsonl"))
        parts.append(gated)
    return write_if_changed(pa.concat_tables(parts), out)


def write_if_changed(table: Any, path: Path) -> Path:
    """Write a derived Parquet file only when its content changes.

    An unchanged table leaves the file (and its mtime) untouched, so a rerun neither rehashes it
    for later stages' fingerprints nor uploads it again to a mirrored run's URI.
    """
    import io

    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(table, buf)
    data = buf.getvalue()
    if path.is_file() and path.read_bytes() == data:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)  # atomic: a killed run never leaves half a file behind
    return path


def label_stage(cfg: Config, run_dir: Path, use_ray: bool) -> dict[str, Any]:
    import pyarrow.parquet as pq

    from tgrd import rundir
    from tgrd.teacher.stage import label_records, label_with_ray, write_outputs

    pool = pooled_training_records(run_dir, cfg)
    results = {}
    for rubric in RUBRICS:
        out = run_dir / "label" / rubric
        fp = rundir.fingerprint({"teacher": _teacher_settings(cfg), "rubric": rubric}, [pool])
        if rundir.is_done(out, fp) and (out / "summary.json").is_file():
            results[rubric] = {"skipped": True}
            continue
        records = pq.read_table(
            pool, columns=["id", "task", "messages", "gate_pass", "gate_reason"]
        )
        records = records.to_pylist()
        for rec in records:
            if rubric == "5way":  # the ablation: the teacher sees everything, no gates
                rec.pop("gate_pass"), rec.pop("gate_reason")
            elif rec["gate_reason"] == "":
                rec["gate_reason"] = None
        teacher = cfg.teacher.model_copy(update={"rubric": rubric})
        label = label_with_ray if use_ray else label_records
        rows, summary = label(records, teacher, progress=False)
        write_outputs(out, rows, summary)
        if not summary["complete"]:
            raise RuntimeError(
                f"{out}: teacher labeling incomplete ({summary['status']}); rerun to continue "
                "(stored labels are never paid for twice)"
            )
        rundir.mark_done(out, fp)
        results[rubric] = {k: summary[k] for k in ("instances", "status", "requests", "cost_usd")}
    return results


def distill_stage(cfg: Config, run_dir: Path, use_ray: bool) -> dict[str, Any]:
    from tgrd.student.distill import run_distill

    pool = run_dir / "label" / "pool_gated.parquet"
    results = {}
    for rubric in RUBRICS:
        student_cfg = cfg.model_copy(deep=True)
        student_cfg.student.data.labels = rubric
        summary = run_distill(
            student_cfg,
            pool,
            run_dir / "label" / rubric / "labels.parquet",
            run_dir / "distill" / rubric,
            use_ray=use_ray and cfg.student.train.use_ray,
        )
        results[rubric] = {k: v for k, v in summary.items() if k in ("skipped", "seconds", "val")}
    return results


def _teacher_verifier(
    cfg: Config, run_dir: Path, verifier: str, candidates: dict[str, Path]
) -> dict[str, Any]:
    from tgrd import rundir
    from tgrd.ingest import read_records
    from tgrd.teacher.verifiers import run_verifier

    out = run_dir / "score" / verifier
    settings = {"teacher": _teacher_settings(cfg), "m": cfg.score.m, "seed": cfg.score.seed}
    fp = rundir.fingerprint(settings, sorted(candidates.values()))
    if rundir.is_done(out, fp) and (out / "scores.json").is_file():
        return json.loads((out / "scores.json").read_text())
    rundir.prepare(out, cfg)
    records = {}
    for name, path in candidates.items():
        table, _ = read_records([path], cfg.ingest)
        records[name] = table.select(["id", "task", "messages"]).to_pylist()
    start = time.perf_counter()
    scores = run_verifier(records, verifier, cfg, m=cfg.score.m, seed=cfg.score.seed)
    teacher_summary = scores.pop("_summary")
    result = {
        "verifier": verifier,
        "candidates": scores,
        "teacher": teacher_summary,
        "seconds": round(time.perf_counter() - start, 2),
    }
    (out / "scores.json").write_text(json.dumps(result, indent=2, default=str))
    rundir.mark_done(out, fp)
    return result


def score_stage(cfg: Config, run_dir: Path, use_ray: bool) -> dict[str, Any]:
    from tgrd.student.score import candidate_files, run_score

    dirs = candidate_dirs(cfg, run_dir)
    results = {}
    for rubric in RUBRICS:
        verifier = STUDENT_VERIFIER[rubric]
        summary = run_score(
            cfg, dirs, run_dir / "distill" / rubric, run_dir / "score" / verifier, use_ray=use_ray
        )
        results[verifier] = {
            "skipped": summary.get("skipped", False),
            "seconds": summary.get("seconds"),
        }
    candidates = candidate_files(dirs)
    for verifier in TEACHER_VERIFIERS:
        summary = _teacher_verifier(cfg, run_dir, verifier, candidates)
        results[verifier] = {
            "seconds": summary.get("seconds"),
            "requests": summary["teacher"]["requests"],
        }
    return results


def verifier_scores(run_dir: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """verifier → "<task>/<candidate>" → {dvs, class_counts, gate_fail, ...} from score/*."""
    out = {}
    for verifier in (*STUDENT_VERIFIER.values(), *TEACHER_VERIFIERS):
        path = run_dir / "score" / verifier / "scores.json"
        if path.is_file():
            out[verifier] = json.loads(path.read_text())["candidates"]
    return out


def class_table(run_dir: Path) -> Path:
    """verifier, task, candidate, GATE_FAIL, INCORRECT, TASK_MISMATCH, PASS counts (for calibrate)."""
    import pandas as pd

    rows = []
    for verifier, cands in verifier_scores(run_dir).items():
        for name, info in cands.items():
            task, cand = name.split("/", 1)
            counts = dict(info.get("class_counts", {}))
            gate_fail = info.get("gate_fail", counts.pop("GATE_FAIL", 0))
            gate_fail += sum(counts.pop(c, 0) for c in STRUCTURAL)
            rows.append(
                {
                    "verifier": verifier,
                    "task": task,
                    "candidate": cand,
                    "GATE_FAIL": gate_fail,
                    **{c: counts.get(c, 0) for c in ("INCORRECT", "TASK_MISMATCH", "PASS")},
                }
            )
    import pyarrow as pa

    return write_if_changed(
        pa.Table.from_pandas(pd.DataFrame(rows), preserve_index=False),
        run_dir / "calibrate" / "classes.parquet",
    )


def report_stage(cfg: Config, run_dir: Path) -> dict[str, Any]:
    from tgrd import rundir
    from tgrd.report import write_report
    from tgrd.report_inputs import collect_inputs

    out = run_dir / "report"
    # Everything the report reads except pipeline.json (which changes with every run's timings).
    sources = [
        p
        for pattern in (
            "score/*/scores.json",
            "groundtruth/dbs.parquet",
            "label/*/summary.json",
            "distill/3way/*.json",
            "gate/*/summary.json",
            "calibrate/calibration.json",
        )
        for p in run_dir.glob(pattern)
    ]
    fp = rundir.fingerprint({"report": 1}, sources)
    if rundir.is_done(out, fp) and (out / "report.md").is_file():
        return {"report": str(out / "report.md"), "skipped": True}
    result = write_report(collect_inputs(run_dir), out)
    rundir.mark_done(out, fp)
    return {"report": str(out / "report.md"), "plots": result["plots"]}


def run_pipeline(
    cfg: Config, run_dir: str | Path | None = None, use_ray: bool = True
) -> dict[str, Any]:
    """Run the configured stages; returns {stage: summary} and writes RUN_DIR/pipeline.json."""
    from tgrd import storage

    # A string, not a Path, until storage has looked at it: Path("s3://b/x") becomes "s3:/b/x".
    location = str(run_dir) if run_dir else f"{str(cfg.run.root).rstrip('/')}/{cfg.run.name}"
    with storage.run_location(location) as out:
        return _run_stages(cfg, out, use_ray)


def _run_stages(cfg: Config, out: Path, use_ray: bool) -> dict[str, Any]:
    from tgrd import rundir, storage
    from tgrd.gate_stage import run_gate_stage

    unknown = [s for s in cfg.pipeline.stages if s not in STAGES]
    if unknown:
        raise ValueError(
            f"pipeline.stages: unknown stage(s) {unknown}; available: {', '.join(STAGES)}"
        )
    if cfg.pipeline.source != "synth" and set(cfg.pipeline.stages) - {"synth", "gate"}:
        raise ValueError(
            "stages after gate need pipeline.source=synth (candidates and a benchmark)"
        )
    rundir.prepare(out, cfg)
    if use_ray:
        from tgrd.raysession import ensure_ray

        ensure_ray(cfg.ray)
    results: dict[str, Any] = {}
    timings: dict[str, float] = {}
    with contextlib.ExitStack() as stack:
        live: Config | None = None  # the config with a live teacher, started on first need
        for stage in cfg.pipeline.stages:
            start = time.perf_counter()
            if stage in TEACHER_STAGES and live is None:
                live = stack.enter_context(teacher_endpoint(cfg, out))
            if stage == "synth" and cfg.pipeline.source == "synth":
                results["synth"] = synth_stage(cfg, out / "synth")
            elif stage == "gate":
                for task, inputs in task_inputs(cfg, out).items():
                    results[f"gate/{task}"] = run_gate_stage(
                        inputs, out / "gate" / task, cfg, use_ray=use_ray
                    )
            elif stage == "label":
                results["label"] = label_stage(live, out, use_ray)
            elif stage == "distill":
                results["distill"] = distill_stage(cfg, out, use_ray)
            elif stage == "score":
                results["score"] = score_stage(live, out, use_ray)
            elif stage == "groundtruth":
                from tgrd.downstream.stage import run_groundtruth_stage

                gt = run_groundtruth_stage(out / "synth", out / "groundtruth", cfg)
                results["groundtruth"] = {"spread": gt.get("spread"), "timing": gt.get("timing")}
            elif stage == "calibrate":
                from tgrd.downstream.stage import run_calibrate_stage

                cal = run_calibrate_stage(
                    class_table(out), out / "groundtruth" / "dbs.parquet", out / "calibrate", cfg
                )
                results["calibrate"] = {
                    v: {k: r[k]["mean"] for k in r if isinstance(r[k], dict) and "mean" in r[k]}
                    for v, r in cal.items()
                }
            elif stage == "report":
                results["report"] = report_stage(cfg, out)
            timings[stage] = round(time.perf_counter() - start, 3)
            (out / "pipeline.json").write_text(
                json.dumps({**results, "stage_seconds": timings}, indent=2, default=str)
            )
            storage.checkpoint(out)  # a run mirrored to a URI: this stage's outputs go up now
    results["stage_seconds"] = timings
    return results
