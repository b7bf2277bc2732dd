"""``tgrd distill``: train the student classifier on gate failures + teacher labels.

    tgrd distill --config configs/student_smoke.yaml --gated runs/x/gate --labels runs/x/label \\
        --out runs/x/distill [--engine local|ray] [student.train.epochs=5 ...]

``--gated`` is a ``tgrd gate`` output (directory or its gated.parquet), ``--labels`` a
``tgrd label`` output (directory or its labels.parquet); both default to
``student.data.gated_path`` / ``student.data.labels_path``. Writes OUT/student (adapter,
tokenizer, model card), OUT/metrics.json and OUT/curves.{json,png} (tgrd/student/distill.py).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tgrd.commands.common import add_config_arguments, config_from_args

HELP = "train the distilled student (LoRA sequence classifier) on Ray Train or in-process"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gated", default=None, help="gated.parquet or a `tgrd gate` output dir")
    parser.add_argument(
        "--labels", default=None, help="labels.parquet or a `tgrd label` output dir"
    )
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument(
        "--engine",
        choices=("local", "ray"),
        default=None,
        help="Ray Train TorchTrainer or one process (default: student.train.use_ray)",
    )
    add_config_arguments(parser)


def resolve(path: str | None, default: str | None, filename: str, what: str) -> Path:
    """A file, or ``filename`` inside a directory; errors name the flag that is missing."""
    raw = path or default
    if raw is None:
        raise ValueError(f"no {what}: pass --{what} or set student.data.{what}_path")
    p = Path(raw)
    return p / filename if p.is_dir() else p


def run(args: argparse.Namespace) -> int:
    from tgrd.student.distill import run_distill

    cfg = config_from_args(args)
    gated = resolve(args.gated, cfg.student.data.gated_path, "gated.parquet", "gated")
    labels = resolve(args.labels, cfg.student.data.labels_path, "labels.parquet", "labels")
    use_ray = None if args.engine is None else args.engine == "ray"
    summary = run_distill(cfg, gated, labels, args.out, use_ray=use_ray)
    final = summary.get("final_val") or {}
    print(json.dumps({k: v for k, v in summary.items() if k != "final_val"}, indent=2))
    if final:
        print(
            f"validation: accuracy {final['accuracy']:.4f} macro-F1 {final['macro_f1']:.4f} "
            f"agreement-with-teacher {final['agreement_with_teacher']:.4f}"
        )
    return 0
