"""``tgrd score``: Dataset Value Score of each candidate with the distilled student.

    tgrd score --config configs/student_smoke.yaml --candidates runs/x/synth/code/candidates \\
        runs/x/synth/finqa/candidates --student runs/x/distill --out runs/x/score [score.m=128]

Samples ``score.m`` instances per candidate (seeded), gates them (3-way student), classifies the
rest with the student (Ray Data actor pool, or in-process with ``--engine local``) and averages
``score.score_map``. Writes OUT/scores.json and OUT/predictions.parquet (tgrd/student/score.py).
"""

from __future__ import annotations

import argparse

from tgrd.commands.common import add_config_arguments, config_from_args

HELP = "score candidate datasets (DVS) with gates + the distilled student"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--candidates",
        nargs="+",
        required=True,
        metavar="PATH",
        help="candidate files or directories (one candidate per file)",
    )
    parser.add_argument(
        "--student", required=True, help="`tgrd distill` output dir (or its student/)"
    )
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument(
        "--engine",
        choices=("local", "ray"),
        default=None,
        help="Ray Data actor pool or one process (default: score.use_ray)",
    )
    add_config_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from tgrd.student.score import run_score

    cfg = config_from_args(args)
    use_ray = None if args.engine is None else args.engine == "ray"
    summary = run_score(cfg, args.candidates, args.student, args.out, use_ray=use_ray)
    print(f"verifier {summary['verifier']}, m={summary['m']}, seed={summary['seed']}")
    for name, c in summary["candidates"].items():
        print(
            f"  {name:<24} DVS {c['dvs']:.4f}  gate_fail {c['gate_fail']:>3}  {c['class_counts']}"
        )
    return 0
