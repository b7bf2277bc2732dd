"""``tgrd rgsd``: Rubric-Guided Self-Distillation end to end, with the SFT baseline and a report.

    tgrd rgsd --config configs/rgsd_demo.yaml --out runs/rgsd_demo
    tgrd rgsd --config configs/rgsd_smoke.yaml --out runs/rgsd_smoke rgsd.train.divergence=jsd

Writes the data, base model, checkpoints, ``metrics.json`` and ``report.md`` (+ PNG plots) under
``--out``; a rerun resumes from the latest checkpoints. ``rgsd.train.use_ray=true`` trains under
Ray Train (local Ray unless ``ray.address`` is set).
"""

from __future__ import annotations

import argparse

from tgrd.commands.common import add_config_arguments, config_from_args

HELP = "rubric-guided self-distillation (RGSD) with an SFT baseline and a report"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument("--out", help="run directory (default: <run.root>/<run.name>)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tgrd.rgsd.workflow import run_rgsd

    cfg = config_from_args(args)
    out = Path(args.out) if args.out else Path(cfg.run.root) / cfg.run.name
    metrics = run_rgsd(cfg, out)
    conds = metrics["conditions"]
    print(f"conditioning gap: {metrics['conditioning_gap'] * 100:+.1f} points")
    for name, result in conds.items():
        print(f"{name:>22}: satisfaction {result['satisfaction']:.3f}  words {result['words']:.1f}")
    print(f"report: {out / 'report.md'}")
    return 0
