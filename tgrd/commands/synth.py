"""``tgrd synth``: generate the synthetic benchmark (pool, K candidates, benchmark, truth).

    tgrd synth --config configs/synth_demo.yaml --out runs/synth [synth.seed=3 synth.pool_size=500]

Writes the layout described in tgrd/synth/generate.py and prints the counts and the wall time.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from tgrd.commands.common import add_config_arguments, config_from_args

HELP = "generate the synthetic code/finqa benchmark: pool, candidates, held-out set, truth"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    add_config_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from tgrd.synth.generate import generate

    cfg = config_from_args(args).synth
    start = time.perf_counter()
    manifest = generate(cfg, args.out)
    elapsed = time.perf_counter() - start
    for task, info in manifest["tasks"].items():
        sizes = {name: d["size"] for name, d in info["datasets"].items()}
        print(
            f"{task}: benchmark {info['benchmark']['size']}, pool {sizes.pop('pool')}, "
            f"{len(sizes)} candidates of {sum(sizes.values())} instances in total"
        )
    print(f"wrote {args.out} (seed {cfg.seed}, difficulty {cfg.difficulty}) in {elapsed:.2f} s")
    return 0
