"""Ray job: ingest files and apply the tool gates (Ray Data actor pool).

Local:
    python jobs/gate.py INPUT... --out runs/gate [--config configs/demo.yaml] [key.sub=value ...]

On a cluster (inputs and --out on storage every node can read, e.g. a shared mount):
    ray job submit --working-dir . --runtime-env cluster/runtime_env.yaml -- \
        python jobs/gate.py /mnt/shared/data/pool.jsonl --out /mnt/shared/runs/gate
"""

import sys

from tgrd.cli import main

if __name__ == "__main__":
    sys.exit(main(["gate", *sys.argv[1:]]))
