"""Ray job: cross-validated score-map search on Ray Tune (in-sample, LOTO, LOCO, paper baseline).

Local:
    python jobs/calibrate.py --config configs/groundtruth_demo.yaml --scores SCORES.parquet \
        --dbs runs/gt_demo/dbs.parquet --out runs/cal_demo [key.sub=value ...]

On a cluster:
    ray job submit --working-dir . --runtime-env cluster/runtime_env.yaml -- \
        python jobs/calibrate.py --config configs/groundtruth_demo.yaml \
        --scores /mnt/shared/runs/score/classes.parquet --dbs /mnt/shared/runs/gt/dbs.parquet \
        --out /mnt/shared/runs/calibrate

SCORES: task, candidate, one count/fraction column per class of calibrate.classes
(GATE_FAIL, INCORRECT, TASK_MISMATCH, PASS by default), optionally verifier.
"""

import sys

from tgrd.cli import main

if __name__ == "__main__":
    sys.exit(main(["calibrate", *sys.argv[1:]]))
