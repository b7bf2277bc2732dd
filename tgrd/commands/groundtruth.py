"""``tgrd groundtruth --config FILE --synth DIR --out DIR [key.sub=value ...]``: the DBS grid.

Fine-tunes the downstream model on every candidate × seed × task of DIR (``<task>/candidates/
*.jsonl`` and ``<task>/benchmark.jsonl``, as written by ``tgrd synth``) on Ray Tune and writes
OUT/runs.parquet, OUT/dbs.parquet and OUT/summary.json (tgrd/downstream/stage.py). Rerunning
with the same inputs and config is a no-op; after an interruption it resumes the Tune experiment.
"""

from __future__ import annotations

import argparse
import json

from tgrd.commands.common import add_config_arguments, config_from_args

HELP = "downstream fine-tunes on Ray Tune: DBS per candidate (mean over seeds, seed std)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--synth", required=True, help="directory with <task>/candidates and benchmarks"
    )
    parser.add_argument("--out", required=True, help="stage output directory")
    add_config_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from tgrd.downstream.stage import run_groundtruth_stage

    cfg = config_from_args(args)
    summary = run_groundtruth_stage(args.synth, args.out, cfg)
    for row in summary["dbs"]:
        print(
            f"{row['task']:>6} {row['candidate']:<12} DBS {row['dbs']:.3f} "
            f"± {row['seed_std']:.3f} (n={row['n_seeds']})"
        )
    print(
        json.dumps(
            {k: summary[k] for k in ("spread", "timing", "quality_correlation") if k in summary},
            indent=2,
        )
    )
    return 0
