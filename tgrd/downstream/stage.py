"""The ground-truth and calibration stages over a run directory (skipped when already done).

    from tgrd.downstream.stage import run_groundtruth_stage, run_calibrate_stage
    summary = run_groundtruth_stage("runs/demo/synth", "runs/demo/groundtruth", cfg)
    report = run_calibrate_stage("runs/demo/score/classes.parquet",
                                 "runs/demo/groundtruth/dbs.parquet", "runs/demo/calibrate", cfg)

Ground truth writes ``runs.parquet``, ``dbs.parquet`` and ``summary.json`` (DBS per candidate
with seed std, seed noise against the gaps between candidates, and, when the input is the
synthetic benchmark, Spearman between planted clean fraction and DBS). Calibration writes
``calibration.json`` (in-sample, held-out and baseline figures kept apart) and
``calibration.md``. A stage whose inputs and settings are unchanged is a no-op (STYLE.md §7); a
ground-truth stage killed half-way resumes its Tune experiment instead of starting over.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tgrd import rundir
from tgrd.config import Config

SUMMARY = "summary.json"


def _inputs(synth: Path, cfg: Config) -> list[Path]:
    from tgrd.downstream.sweep import grid_cells

    cells = grid_cells(synth, cfg.downstream)
    files = {Path(c["candidate_path"]) for c in cells} | {Path(c["benchmark_path"]) for c in cells}
    return sorted(files)


def run_groundtruth_stage(
    synth_dir: str | Path, out_dir: str | Path, cfg: Config
) -> dict[str, Any]:
    """Fine-tune every candidate × seed × task on Ray Tune and summarise the DBS."""
    from tgrd.downstream.dbs import clean_fraction, quality_correlation, spread_summary
    from tgrd.downstream.sweep import run_sweep
    from tgrd.raysession import ensure_ray

    synth, out = Path(synth_dir), Path(out_dir)
    fp = rundir.fingerprint(cfg.downstream.model_dump(mode="json"), _inputs(synth, cfg))
    if rundir.is_done(out, fp) and (out / SUMMARY).is_file():
        return json.loads((out / SUMMARY).read_text())
    rundir.prepare(out, cfg)
    ensure_ray(cfg.ray)
    dbs = run_sweep(synth, out, cfg.downstream)
    summary: dict[str, Any] = {
        "dbs": dbs.drop(columns=["scores"]).to_dict("records"),
        "spread": spread_summary(dbs).to_dict("records"),
        "timing": json.loads((out / "timing.json").read_text()),
    }
    truth = synth / "truth.parquet"
    if truth.is_file():
        clean = clean_fraction(truth)
        summary["clean_fraction"] = clean.to_dict("records")
        summary["quality_correlation"] = quality_correlation(dbs, clean).to_dict("records")
    (out / SUMMARY).write_text(json.dumps(summary, indent=2))
    rundir.mark_done(out, fp)
    return summary


def calibration_markdown(report: dict[str, Any]) -> str:
    """The four figures side by side, per task and on average."""
    kinds = [
        ("baseline", "paper map (fixed)"),
        ("in_sample", "searched, in-sample"),
        ("leave_one_task_out", "searched, leave-one-task-out"),
        ("leave_one_candidate_out", "searched, leave-one-candidate-out"),
    ]
    tasks = sorted(report["baseline"]["per_task"])
    lines = [
        "| score map | " + " | ".join(f"ρ {t}" for t in tasks) + " | mean ρ |",
        "|---" * (len(tasks) + 2) + "|",
    ]
    for key, label in kinds:
        if key not in report:
            continue
        r = report[key]
        cells = [f"{r['per_task'].get(t, float('nan')):.3f}" for t in tasks]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {r['mean']:.3f} |")
    m = report["in_sample"]["map"]
    lines.append("")
    lines.append(
        "In-sample map: "
        + ", ".join(f"{k} {v:.2f}" for k, v in m.items())
        + ". In-sample figures are optimistic by construction; quote the held-out rows."
    )
    return "\n".join(lines) + "\n"


def run_calibrate_stage(
    scores: str | Path, dbs: str | Path, out_dir: str | Path, cfg: Config
) -> dict[str, Any]:
    """Cross-validated score-map search on Ray Tune, one report per verifier if several."""
    import pandas as pd

    from tgrd.downstream.calibrate import load_table
    from tgrd.downstream.mapsearch import search_score_map
    from tgrd.raysession import ensure_ray

    out = Path(out_dir)
    fp = rundir.fingerprint(cfg.calibrate.model_dump(mode="json"), [Path(scores), Path(dbs)])
    if rundir.is_done(out, fp) and (out / "calibration.json").is_file():
        return json.loads((out / "calibration.json").read_text())
    rundir.prepare(out, cfg)
    ensure_ray(cfg.ray)
    table = load_table(scores, dbs, list(cfg.calibrate.classes))
    groups = table.groupby("verifier", sort=True) if "verifier" in table else [("all", table)]
    reports, md = {}, []
    for verifier, part in groups:
        sub = out / str(verifier)
        sub.mkdir(parents=True, exist_ok=True)
        part = part.reset_index(drop=True)
        reports[str(verifier)] = search_score_map(part, cfg.calibrate, out_dir=sub)
        md.append(f"## {verifier}\n\n" + calibration_markdown(reports[str(verifier)]))
    (out / "calibration.json").write_text(json.dumps(reports, indent=2))
    (out / "calibration.md").write_text("# Score-map calibration\n\n" + "\n".join(md))
    pd.DataFrame([{"verifier": v, **r["in_sample"]["map"]} for v, r in reports.items()]).to_json(
        out / "score_map.json", orient="records", indent=2
    )
    rundir.mark_done(out, fp)
    return reports
