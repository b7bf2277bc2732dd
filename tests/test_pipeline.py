"""The pipeline on the smoke config: synth → gate per task under one run directory, resumable."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from tgrd.config import ConfigError, load_config
from tgrd.pipeline import run_pipeline

SMOKE = "configs/smoke.yaml"


def test_smoke_pipeline_runs_and_resumes(ray_session, tmp_path):
    cfg = load_config(SMOKE)
    results = run_pipeline(cfg, tmp_path / "run")
    for task in cfg.synth.tasks:
        summary = results[f"gate/{task}"]
        gated = pq.read_table(tmp_path / "run" / "gate" / task / "gated.parquet")
        assert summary["records"] == gated.num_rows == summary["passed"] + summary["failed"]
        # Planted malformed lines are quarantined; planted empty/repetitive ones fail a gate.
        assert summary["quarantined"] > 0 and summary["failed"] > 0
        sources = {s.rsplit("/", 1)[-1] for s in gated.column("source").to_pylist()}
        assert "pool.jsonl" in sources and "cand_00.jsonl" in sources
        assert "benchmark.jsonl" not in sources
    assert json.loads((tmp_path / "run" / "pipeline.json").read_text())["stage_seconds"]
    again = run_pipeline(cfg, tmp_path / "run")
    assert again["synth"].get("skipped") and all(
        again[f"gate/{t}"].get("skipped") for t in cfg.synth.tasks
    )


def test_unknown_stage_is_an_error(tmp_path):
    cfg = load_config(SMOKE, ["pipeline.stages=[synth, nonsense]"])
    with pytest.raises(ValueError, match="nonsense"):
        run_pipeline(cfg, tmp_path / "run", use_ray=False)
    with pytest.raises(ConfigError, match="pipeline.source"):
        load_config(SMOKE, ["pipeline.source=somewhere"])


def test_examples_source_in_process(tmp_path):
    cfg = load_config(SMOKE, ["pipeline.source=examples", "pipeline.stages=[gate]"])
    results = run_pipeline(cfg, tmp_path / "run", use_ray=False)
    assert results["gate/all"]["quarantined"] >= 8
