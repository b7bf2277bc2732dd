"""Ray job: the whole pipeline (synth or user data → ingest → gate → ...) over one run directory.

Local (starts a private single-node Ray):
    python jobs/pipeline.py --config configs/demo.yaml [--out runs/demo] [key.sub=value ...]

On a cluster (the driver joins the cluster through RAY_ADDRESS set by the job server):
    ray job submit --working-dir . --runtime-env cluster/runtime_env.yaml -- \
        python jobs/pipeline.py --config configs/demo.yaml --out /mnt/shared/runs/demo
    (or --out s3://bucket/tgrd/demo: the run is mirrored there, see tgrd/storage.py)

A killed run resumes: rerun the same command and finished stages are skipped.
"""

import sys

from tgrd.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]]))
