"""Ray job: train the distilled student on Ray Train (TorchTrainer, DDP; FailureConfig resume).

Local:
    python jobs/distill.py --config configs/student_smoke.yaml --gated runs/x/gate \
        --labels runs/x/label --out runs/x/distill [key.sub=value ...]

On a cluster (inputs and --out on storage every node can read, e.g. a shared mount):
    ray job submit --working-dir . --runtime-env cluster/runtime_env.yaml -- \
        python jobs/distill.py --config configs/paper/student.yaml --gated /mnt/shared/runs/gate \
        --labels /mnt/shared/runs/label --out /mnt/shared/runs/distill --engine ray
"""

import sys

from tgrd.cli import main

if __name__ == "__main__":
    sys.exit(main(["distill", *sys.argv[1:]]))
