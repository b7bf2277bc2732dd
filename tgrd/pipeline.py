"""The end-to-end pipeline, stage by stage, under one run directory.

    tgrd run --config configs/demo.yaml          # or: python jobs/pipeline.py --config ...

Stages (each writes RUN_DIR/<stage>/... and is skipped when its outputs exist and match the
config, so a killed run resumes where it stopped):

1. ``synth`` — the synthetic DataChef-like benchmark (tgrd/synth), unless ``pipeline.source`` is
   ``inputs`` (the user's files in ``ingest.inputs``) or ``examples`` (the small bundled files).
2. ``gate/<task>`` — ingest + tool gates over the task's training pool and candidates
   (tgrd/gate_stage.py): gated.parquet, quarantine.parquet, summary.json.

Later stages (label, distill, score, ground truth, calibrate, report) join this list as they land.
"""

from __future__ import annotations

import json
import time
from importlib import resources
from pathlib import Path
from typing import Any

from tgrd.config import Config


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


def run_pipeline(
    cfg: Config, run_dir: str | Path | None = None, use_ray: bool = True
) -> dict[str, Any]:
    """Run the configured stages; returns {stage: summary} and writes RUN_DIR/pipeline.json."""
    from tgrd import rundir
    from tgrd.gate_stage import run_gate_stage

    out = Path(run_dir) if run_dir else Path(cfg.run.root) / cfg.run.name
    rundir.prepare(out, cfg)
    unknown = [s for s in cfg.pipeline.stages if s not in ("synth", "gate")]
    if unknown:
        raise ValueError(f"pipeline.stages: unknown stage(s) {unknown}; available: synth, gate")
    results: dict[str, Any] = {}
    timings: dict[str, float] = {}
    for stage in cfg.pipeline.stages:
        start = time.perf_counter()
        if stage == "synth" and cfg.pipeline.source == "synth":
            results["synth"] = synth_stage(cfg, out / "synth")
        elif stage == "gate":
            for task, inputs in task_inputs(cfg, out).items():
                results[f"gate/{task}"] = run_gate_stage(
                    inputs, out / "gate" / task, cfg, use_ray=use_ray
                )
        timings[stage] = round(time.perf_counter() - start, 3)
    results["stage_seconds"] = timings
    (out / "pipeline.json").write_text(json.dumps(results, indent=2, default=str))
    return results
