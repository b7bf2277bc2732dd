"""``tgrd pipeline [--config FILE] [--out RUN_DIR] [key.sub=value ...]``: run every stage end to end.

Without --config it runs the embedded default (configs/demo.yaml's settings are the defaults
of the schema plus the bundled example data).
"""

from __future__ import annotations

import argparse
import json

from tgrd.commands.common import add_config_arguments, config_from_args

HELP = "run the whole pipeline (the embedded demo by default)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default=None, help="run directory (default: run.root/run.name)")
    parser.add_argument("--no-ray", action="store_true", help="run in-process instead of on Ray")
    add_config_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from tgrd.pipeline import run_pipeline

    cfg = config_from_args(args)
    results = run_pipeline(cfg, args.out, use_ray=not args.no_ray)
    for stage, summary in results.items():
        shown = {k: v for k, v in summary.items() if k not in ("inputs", "by_source")}
        print(f"[{stage}] {json.dumps(shown)}")
    return 0
