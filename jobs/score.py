"""Ray job: Dataset Value Score per candidate (gates + student batch inference on Ray Data).

Local:
    python jobs/score.py --config configs/student_smoke.yaml --candidates runs/x/synth/code/candidates \
        --student runs/x/distill --out runs/x/score [key.sub=value ...]

On a cluster (GPU actors when the cluster has GPUs; paths on shared storage):
    ray job submit --working-dir . --runtime-env cluster/runtime_env.yaml -- \
        python jobs/score.py --config configs/paper/student.yaml --candidates /mnt/shared/candidates \
        --student /mnt/shared/runs/distill --out /mnt/shared/runs/score --engine ray
"""

import sys

from tgrd.cli import main

if __name__ == "__main__":
    sys.exit(main(["score", *sys.argv[1:]]))
