"""Ray job: Rubric-Guided Self-Distillation with Ray Train (thin wrapper over tgrd.rgsd.workflow).

Local (starts a local Ray):
    python jobs/rgsd.py --config configs/rgsd_smoke.yaml
On a cluster:
    ray job submit --working-dir . --runtime-env cluster/runtime_env.yaml -- \
        python jobs/rgsd.py --config configs/rgsd_demo.yaml --out runs/rgsd_demo

Forces ``rgsd.train.use_ray=true``; other overrides follow the config path
(``python jobs/rgsd.py --config configs/rgsd_demo.yaml rgsd.train.num_workers=2``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from tgrd.commands.common import add_config_arguments, config_from_args
    from tgrd.rgsd.workflow import run_rgsd

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_config_arguments(parser)
    parser.add_argument("--out", help="run directory (default: <run.root>/<run.name>)")
    args = parser.parse_args(argv)
    cfg = config_from_args(args, extra_overrides=["rgsd.train.use_ray=true"])
    out = Path(args.out) if args.out else Path(cfg.run.root) / cfg.run.name

    import ray

    ray.init(address=cfg.ray.address, num_cpus=cfg.ray.num_cpus, include_dashboard=cfg.ray.include_dashboard)
    try:
        metrics = run_rgsd(cfg, out)
    finally:
        ray.shutdown()
    print(f"conditioning gap {metrics['conditioning_gap'] * 100:+.1f} points; report: {out / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
