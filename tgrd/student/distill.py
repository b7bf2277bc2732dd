"""The distill stage: gate + label outputs → a trained student in a run directory.

    tgrd distill --config configs/student_smoke.yaml --gated runs/x/gate/gated.parquet \\
        --labels runs/x/label/labels.parquet --out runs/x/distill

    from tgrd.student.distill import run_distill
    summary = run_distill(cfg, "gate/gated.parquet", "label/labels.parquet", "runs/x/distill")

Outputs in OUT: ``student/`` (adapter, tokenizer, student.json, training.json, README.md model
card), ``metrics.json`` (per-epoch loss, accuracy, macro-F1, confusion matrix, agreement with
the teacher), ``curves.json`` + ``curves.png``, ``config.yaml``, ``versions.json``. With
``student.train.use_ray`` the fit runs on Ray Train (checkpoints under ``OUT/ray``); otherwise
in-process, checkpointing to ``OUT/checkpoints`` and resuming from the latest one there.
A finished stage with the same inputs and settings is skipped (tgrd/rundir.py).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tgrd import rundir
from tgrd.config import Config


def _fit_local(cfg: Config, gated: Path, labels: Path, out: Path) -> Path:
    import torch

    from tgrd.student.data import build_examples
    from tgrd.student.train import fit, latest_checkpoint
    from tgrd.student.training_record import save_final

    data = build_examples(gated, labels, cfg.student.data)
    use_gpu = (
        torch.cuda.is_available()
        if cfg.student.train.use_gpu == "auto"
        else cfg.student.train.use_gpu
    )
    ckpts = out / "checkpoints"
    result = fit(
        cfg.student,
        data,
        device="cuda" if use_gpu else "cpu",
        checkpoint_root=ckpts,
        resume_dir=latest_checkpoint(ckpts),
    )
    return save_final(result, data, cfg.student, out / "student")


def run_distill(
    cfg: Config,
    gated: str | Path,
    labels: str | Path,
    out_dir: str | Path,
    use_ray: bool | None = None,
) -> dict[str, Any]:
    """Train the student on ``gated`` ⋈ ``labels``; returns a summary (also in metrics.json).

    Args:
        use_ray: None → ``cfg.student.train.use_ray``.
    """
    gated, labels, out = Path(gated), Path(labels), Path(out_dir)
    for p in (gated, labels):
        if not p.is_file():
            raise FileNotFoundError(f"{p}: no such file (run `tgrd gate` / `tgrd label` first)")
    use_ray = cfg.student.train.use_ray if use_ray is None else use_ray
    settings = {"student": cfg.student.model_dump(mode="json"), "use_ray": use_ray}
    stage_fp = rundir.fingerprint(settings, [gated, labels])
    if rundir.is_done(out, stage_fp) and (out / "metrics.json").is_file():
        return {**json.loads((out / "metrics.json").read_text())["meta"], "skipped": True}
    rundir.prepare(out, cfg)
    start = time.perf_counter()
    if use_ray:
        from tgrd.raysession import ensure_ray
        from tgrd.student.ray_train import train_with_ray

        ensure_ray(cfg.ray)
        student_dir = train_with_ray(
            cfg.student, gated, labels, out, run_name=f"distill-{stage_fp[:8]}"
        )
    else:
        student_dir = _fit_local(cfg, gated, labels, out)
    from tgrd.student.training_record import write_reports

    metrics = write_reports(student_dir, out)
    summary = {
        **metrics["meta"],
        "seconds": round(time.perf_counter() - start, 2),
        "engine": "ray" if use_ray else "local",
        "student_dir": str(student_dir),
        "final_val": metrics["epochs"][-1]["val"] if metrics["epochs"] else None,
    }
    rundir.mark_done(out, stage_fp)
    return summary
