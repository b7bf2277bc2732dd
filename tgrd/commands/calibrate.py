"""``tgrd calibrate --config FILE --scores FILE --dbs FILE --out DIR``: cross-validated score map.

``--scores``: a table (Parquet, CSV or JSONL) with ``task``, ``candidate``, one column per class
of ``calibrate.classes`` (counts or fractions of that candidate's instances; ``GATE_FAIL`` for
gate failures) and optionally ``verifier``. ``--dbs``: ``task``, ``candidate``, ``dbs`` (e.g.
``tgrd groundtruth``'s dbs.parquet). Writes OUT/calibration.json and OUT/calibration.md with the
in-sample, leave-one-task-out, leave-one-candidate-out and paper-map figures kept apart.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tgrd.commands.common import add_config_arguments, config_from_args

HELP = "score-map search on Ray Tune with held-out (LOTO, LOCO) evaluation"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scores", required=True, help="per-candidate class counts or fractions")
    parser.add_argument("--dbs", required=True, help="per-candidate DBS table")
    parser.add_argument("--out", required=True, help="stage output directory")
    add_config_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from tgrd.downstream.stage import run_calibrate_stage

    cfg = config_from_args(args)
    run_calibrate_stage(args.scores, args.dbs, args.out, cfg)
    print((Path(args.out) / "calibration.md").read_text())
    return 0
