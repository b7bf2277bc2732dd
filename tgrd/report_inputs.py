"""Gather a run directory's stage outputs into :class:`tgrd.report.ReportInputs`.

    from tgrd.report_inputs import collect_inputs
    inputs = collect_inputs("runs/demo")

Reads (whatever exists; missing stages leave their part of the report empty):
``score/<verifier>/scores.json`` (DVS per candidate), ``groundtruth/dbs.parquet`` (per-seed
downstream scores), ``label/<rubric>/summary.json`` and the teacher summaries of the teacher
verifiers (cost), ``distill/3way/metrics.json`` + ``curves.json`` (confusion, curves),
``gate/<task>/summary.json`` (coverage) and ``calibrate/calibration.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tgrd.report import ReportInputs


def _json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.is_file() else None


def _dvs(run_dir: Path) -> dict[str, dict[str, dict[str, float]]]:
    out: dict[str, dict[str, dict[str, float]]] = {}
    for scores in sorted((run_dir / "score").glob("*/scores.json")):
        verifier = scores.parent.name
        for name, info in json.loads(scores.read_text())["candidates"].items():
            task, cand = name.split("/", 1) if "/" in name else ("all", name)
            if info.get("dvs") is not None:
                out.setdefault(verifier, {}).setdefault(task, {})[cand] = float(info["dvs"])
    return out


def _dbs(run_dir: Path) -> dict[str, dict[str, list[float]]]:
    path = run_dir / "groundtruth" / "dbs.parquet"
    if not path.is_file():
        return {}
    import pandas as pd

    table = pd.read_parquet(path)
    out: dict[str, dict[str, list[float]]] = {}
    for row in table.itertuples():
        out.setdefault(row.task, {})[row.candidate] = [float(x) for x in row.scores]
    return out


def _teacher_cost(summary: dict[str, Any] | None) -> dict[str, float]:
    if not summary:
        return {"calls": 0, "tokens": 0, "usd": 0.0}
    return {
        "calls": summary.get("requests", 0),
        "tokens": summary.get("prompt_tokens", 0) + summary.get("completion_tokens", 0),
        "usd": summary.get("cost_usd", 0.0),
    }


def _costs(run_dir: Path) -> dict[str, dict[str, float]]:
    costs = {}
    # Students: the teacher is paid once, to label the training pool; scoring is free.
    for rubric, verifier in (("3way", "tool+distilled"), ("5way", "distill-5way")):
        c = _teacher_cost(_json(run_dir / "label" / rubric / "summary.json"))
        costs[verifier] = {
            "label_calls": c["calls"],
            "label_tokens": c["tokens"],
            "label_usd": c["usd"],
        }
    # Teacher verifiers: no training, the teacher is paid for every candidate scored.
    for verifier in ("llm-only", "tool+llm"):
        scores = _json(run_dir / "score" / verifier / "scores.json")
        c = _teacher_cost(scores["teacher"] if scores else None)
        costs[verifier] = {
            "infer_calls": c["calls"],
            "infer_tokens": c["tokens"],
            "infer_usd": c["usd"],
        }
    return costs


def _student(run_dir: Path) -> tuple[dict[str, Any] | None, list[dict[str, float]]]:
    metrics = _json(run_dir / "distill" / "3way" / "metrics.json")
    if not metrics or not metrics.get("epochs"):
        return None, []
    classes = metrics["meta"]["classes"]
    last = metrics["epochs"][-1]["val"]
    confusion = {"labels": classes, "matrix": last["confusion"]}
    steps = _json(run_dir / "distill" / "3way" / "curves.json") or []
    curves, prev = [], 0
    for ep in metrics["epochs"]:
        losses = [s["loss"] for s in steps if prev < s["step"] <= ep["step"]]
        prev = ep["step"]
        point = {
            "epoch": ep["epoch"],
            "val_loss": ep["val"]["loss"],
            "val_accuracy": ep["val"]["accuracy"],
            "val_macro_f1": ep["val"]["macro_f1"],
        }
        if losses:
            point["train_loss"] = sum(losses) / len(losses)
        curves.append(point)
    return confusion, curves


def collect_inputs(run_dir: str | Path) -> ReportInputs:
    """Everything the report needs from a run directory (missing stages are left empty)."""
    run = Path(run_dir)
    confusion, curves = _student(run)
    gate_counts = {}
    for summary in sorted((run / "gate").glob("*/summary.json")):
        s = json.loads(summary.read_text())
        gate_counts[summary.parent.name] = {
            "records": s["records"],
            "failed_by_reason": s["failed_by_reason"],
        }
    calibration = _json(run / "calibrate" / "calibration.json")
    if calibration:  # keep the headline figures; the full search is in calibrate/
        calibration = {
            v: {
                k: {
                    "mean": r[k]["mean"],
                    "per_task": r[k]["per_task"],
                    **({"map": r[k]["map"]} if "map" in r[k] else {}),
                }
                for k in r
                if isinstance(r[k], dict) and "mean" in r[k]
            }
            for v, r in calibration.items()
        }
    pipeline = _json(run / "pipeline.json") or {}
    meta = {"run": run.name, "run_dir": str(run)}
    if pipeline.get("stage_seconds"):
        meta["stage_seconds"] = pipeline["stage_seconds"]
    agreement = None
    metrics = _json(run / "distill" / "3way" / "metrics.json")
    if metrics and metrics.get("epochs"):
        agreement = metrics["epochs"][-1]["val"].get("agreement_with_teacher")
        meta["student_agreement_with_teacher"] = agreement
    return ReportInputs(
        dvs=_dvs(run),
        dbs=_dbs(run),
        costs=_costs(run),
        confusion=confusion,
        gate_counts=gate_counts,
        curves=curves,
        calibration=calibration,
        meta=meta,
    )
