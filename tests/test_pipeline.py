"""The whole pipeline on the smoke config, end to end under one run directory, and resumable."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from tgrd.config import ConfigError, load_config
from tgrd.pipeline import STAGES, run_pipeline

SMOKE = "configs/smoke.yaml"
VERIFIERS = ("tool+distilled", "distill-5way", "llm-only", "tool+llm")


@pytest.mark.integration
def test_smoke_pipeline_end_to_end_and_resume(ray_session, tmp_path):
    cfg = load_config(SMOKE)
    assert tuple(cfg.pipeline.stages) == STAGES
    run = tmp_path / "run"
    results = run_pipeline(cfg, run)

    for task in cfg.synth.tasks:  # gates: planted malformed lines quarantined, defects caught
        summary = results[f"gate/{task}"]
        gated = pq.read_table(run / "gate" / task / "gated.parquet")
        assert summary["records"] == gated.num_rows == summary["passed"] + summary["failed"]
        assert summary["quarantined"] > 0 and summary["failed"] > 0
        assert "benchmark.jsonl" not in {
            s.rsplit("/", 1)[-1] for s in gated.column("source").to_pylist()
        }

    labels3 = pq.read_table(run / "label" / "3way" / "labels.parquet").to_pylist()
    assert {r["status"] for r in labels3} <= {
        "labeled",
        "cached",
        "gate_fail",
    }  # faults retried, none lost
    assert any(r["status"] == "gate_fail" for r in labels3)  # gate failures never reach the teacher
    assert all(r["label"] is None for r in labels3 if r["status"] == "gate_fail")
    labels5 = pq.read_table(run / "label" / "5way" / "labels.parquet").to_pylist()
    assert {r["label"] for r in labels5} - {None} > {"PASS"}

    for rubric in ("3way", "5way"):
        assert (run / "distill" / rubric / "student" / "student.json").is_file()

    dbs = pq.read_table(run / "groundtruth" / "dbs.parquet").to_pandas()
    assert len(dbs) == cfg.synth.num_candidates * len(cfg.synth.tasks)
    for verifier in VERIFIERS:
        scores = json.loads((run / "score" / verifier / "scores.json").read_text())["candidates"]
        assert len(scores) == len(dbs)
        assert all(0.0 <= s["dvs"] <= 1.0 for s in scores.values())
    assert set(json.loads((run / "calibrate" / "calibration.json").read_text())) == set(VERIFIERS)

    report = (run / "report" / "report.md").read_text()
    assert "Table 1" in report and "Table 2" in report
    for verifier in VERIFIERS:
        assert verifier in report
    for png in (
        "dvs_vs_dbs_code.png",
        "dvs_vs_dbs_finqa.png",
        "confusion.png",
        "training_curves.png",
    ):
        assert (run / "report" / png).stat().st_size > 1000
    metrics = json.loads((run / "report" / "metrics.json").read_text())
    assert metrics["costs"]["tool+distilled"]["label_calls"] > 0
    assert metrics["costs"]["llm-only"]["infer_calls"] > 0
    assert (
        metrics["costs"]["tool+distilled"].get("infer_calls", 0) == 0
    )  # zero teacher calls to score

    # A rerun finds every stage done: nothing is recomputed, the teacher is not called again.
    before = {p: p.stat().st_mtime_ns for p in run.rglob("*.parquet")}
    again = run_pipeline(cfg, run)
    assert again["synth"].get("skipped")
    assert all(again[f"gate/{t}"].get("skipped") for t in cfg.synth.tasks)
    assert all(v.get("skipped") for v in again["label"].values())
    assert all(v.get("skipped") for v in again["distill"].values())
    changed = [p for p, m in before.items() if p.stat().st_mtime_ns != m]
    assert changed == []


def test_unknown_stage_and_source_errors(tmp_path):
    cfg = load_config(SMOKE, ["pipeline.stages=[synth, nonsense]"])
    with pytest.raises(ValueError, match="nonsense"):
        run_pipeline(cfg, tmp_path / "run", use_ray=False)
    with pytest.raises(ConfigError, match="pipeline.source"):
        load_config(SMOKE, ["pipeline.source=somewhere"])
    cfg = load_config(SMOKE, ["pipeline.source=examples"])
    with pytest.raises(ValueError, match="need pipeline.source=synth"):
        run_pipeline(cfg, tmp_path / "run2", use_ray=False)


def test_examples_source_gates_in_process(tmp_path):
    cfg = load_config(SMOKE, ["pipeline.source=examples", "pipeline.stages=[gate]"])
    results = run_pipeline(cfg, tmp_path / "run", use_ray=False)
    assert results["gate/all"]["quarantined"] >= 8
