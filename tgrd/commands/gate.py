"""``tgrd gate INPUT... --out DIR [key.sub=value ...]``: ingest files and apply the tool gates.

Writes DIR/gated.parquet, DIR/quarantine.parquet and DIR/summary.json (see tgrd/gate_stage.py).
INPUT is any mix of files (.jsonl, .jsonl.gz, .json, .parquet) and directories.
"""

from __future__ import annotations

import argparse
import json

from tgrd.commands.common import add_config_arguments, config_from_args

HELP = "ingest records and apply the deterministic tool gates"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="files or directories to ingest")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument(
        "--no-ray", action="store_true", help="run in-process instead of on Ray Data"
    )
    add_config_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from tgrd.gate_stage import run_gate_stage

    cfg = config_from_args(args)
    summary = run_gate_stage(args.inputs, args.out, cfg, use_ray=not args.no_ray)
    print(
        json.dumps({k: v for k, v in summary.items() if k not in ("inputs", "by_source")}, indent=2)
    )
    return 0
