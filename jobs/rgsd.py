"""Ray job: Rubric-Guided Self-Distillation on Ray Train (thin wrapper over ``tgrd rgsd``).

Local (starts a local Ray):
    python jobs/rgsd.py --config configs/rgsd_smoke.yaml --out runs/rgsd_smoke
On a cluster:
    ray job submit --working-dir . --runtime-env cluster/runtime_env.yaml -- \
        python jobs/rgsd.py --config configs/rgsd_demo.yaml --out runs/rgsd_demo

Same arguments as ``tgrd rgsd`` (``--config``, ``--out``, ``key.sub=value`` overrides, e.g.
``rgsd.train.num_workers=2``) with ``rgsd.train.use_ray=true`` forced: the RGSD student trains
under a ``TorchTrainer``; Ray connects to ``ray.address`` (None = local, ``auto`` in a job).
"""

from __future__ import annotations

import sys

from tgrd.cli import main

if __name__ == "__main__":
    # The forced override comes last, so it wins over the config file and the user's overrides.
    sys.exit(main(["rgsd", *sys.argv[1:], "rgsd.train.use_ray=true"]))
