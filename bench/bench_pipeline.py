"""Demo pipeline wall time per stage, and how well the Ray Tune sweep fills its slots.

    .venv/bin/python bench/bench_pipeline.py [--config configs/demo.yaml] [--out DIR] [key=value ...]

Runs the pipeline into a fresh run directory (or reuses ``--out`` when it already holds a
finished run, reporting the recorded times) and prints:

- wall seconds per stage and in total (goal for the demo: <= 10 minutes on 2 cores);
- the ground-truth sweep's utilisation = sum of trial time / (sweep wall time x slots), where
  slots = CPUs / cpus_per_trial (goal >= 85 %), and its speed-up over running the same trials
  one after another (the sequential baseline, sum of trial time, measured in the same run).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from tgrd.config import load_config
from tgrd.pipeline import run_pipeline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/demo.yaml")
    parser.add_argument("--out", default=None, help="run directory (default: a fresh temp dir)")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    cfg = load_config(args.config, args.overrides)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="tgrd_bench_pipeline_"))

    # Times of an earlier run in --out, read before this run overwrites them.
    previous = out / "pipeline.json"
    recorded = (
        json.loads(previous.read_text()).get("stage_seconds", {}) if previous.is_file() else {}
    )
    start = time.perf_counter()
    results = run_pipeline(cfg, out)
    wall = time.perf_counter() - start

    import ray

    cpus = ray.cluster_resources().get("CPU", os.cpu_count() or 1)
    print(f"run directory: {out}")
    print(f"{'stage':<12} {'this run':>9} {'first run':>10}")
    for stage, seconds in results["stage_seconds"].items():
        first = recorded.get(stage)
        print(f"{stage:<12} {seconds:9.1f} {first if first is not None else seconds:10.1f}")
    first_total = sum(recorded.values()) if recorded else wall
    print(
        f"{'total':<12} {wall:9.1f} {first_total:10.1f}   (demo goal: <= 600 s on 2 cores; a rerun "
        "skips finished stages)"
    )

    timing_path = out / "groundtruth" / "timing.json"
    if timing_path.is_file():
        timing = json.loads(timing_path.read_text())
        slots = max(1.0, cpus // cfg.downstream.cpus_per_trial)
        util = timing["sum_trial_s"] / (timing["sweep_s"] * slots)
        print(
            f"ground-truth sweep: {int(timing['trials'])} trials, {timing['sweep_s']:.1f} s wall, "
            f"{timing['sum_trial_s']:.1f} s of trial time on {slots:.0f} slots"
        )
        print(f"sweep utilisation      : {util:6.1%}   (goal >= 85 %)")
        print(
            f"speed-up vs sequential : {timing['sum_trial_s'] / timing['sweep_s']:6.2f}x "
            f"(sequential baseline = sum of trial time)"
        )


if __name__ == "__main__":
    main()
