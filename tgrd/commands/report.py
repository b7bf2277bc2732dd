"""``tgrd report RUN_DIR``: write RUN_DIR/report/{report.md, metrics.json, *.png} from a run's outputs."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "write the report (tables, plots) of a pipeline run directory"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", help="a `tgrd run` output directory")
    parser.add_argument("--out", default=None, help="report directory (default: RUN_DIR/report)")
    parser.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples per CI")


def run(args: argparse.Namespace) -> int:
    from tgrd.report import write_report
    from tgrd.report_inputs import collect_inputs

    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir}: no such run directory")
    inputs = collect_inputs(run_dir)
    if not inputs.dvs or not inputs.dbs:
        raise ValueError(
            f"{run_dir}: needs score/ and groundtruth/ outputs (run the pipeline first)"
        )
    out = Path(args.out) if args.out else run_dir / "report"
    write_report(inputs, out, n_resamples=args.resamples)
    print(f"wrote {out / 'report.md'}")
    return 0
