"""``tgrd pipeline [--config FILE] [--out RUN_DIR] [key.sub=value ...]``: run every stage end to end.

Without --config it runs the embedded default (configs/demo.yaml's settings are the defaults
of the schema plus the bundled example data).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

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
        print(f"[{stage}] {json.dumps(shown, default=str)}")
    if "report" in results:
        print_headline(Path(results["report"]["report"]))
    return 0


def print_headline(report_md: Path) -> None:
    """Where the report is, and its headline: Table 1 (verifier x task rank correlations)."""
    lines = report_md.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("## Table 1"))
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("## "))
    print(f"\nReport: {report_md}  (plots and metrics.json beside it)\n")
    print("\n".join(line for line in lines[start:end] if line.strip()))
