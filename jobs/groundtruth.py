"""Ray job: the ground-truth grid (candidates × seeds × tasks fine-tunes on Ray Tune) → DBS.

Local (a private single-node Ray):
    python jobs/groundtruth.py --config configs/groundtruth_demo.yaml --synth runs/synth_demo \
        --out runs/gt_demo [key.sub=value ...]

On a cluster (paper scale: downstream.model=hf_lora, a local/mounted base model, one GPU or a
fraction per trial; --synth and --out on storage every node can read):
    ray job submit --working-dir . --runtime-env cluster/runtime_env.yaml -- \
        python jobs/groundtruth.py --config configs/groundtruth_demo.yaml \
        --synth /mnt/shared/synth --out /mnt/shared/runs/gt downstream.model=hf_lora \
        downstream.hf_lora.model_path=/mnt/models/Qwen3-1.7B-Base downstream.gpus_per_trial=1

Rerunning the same command resumes an interrupted sweep (Tuner.restore) or, when finished, is a
no-op.
"""

import sys

from tgrd.cli import main

if __name__ == "__main__":
    sys.exit(main(["groundtruth", *sys.argv[1:]]))
