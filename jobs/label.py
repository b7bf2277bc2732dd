"""Ray job: teacher labels for gate-passing instances (async Ray Data labeling actors).

Local (a private single-node Ray; the local simulated teacher started for the run):
    python jobs/label.py runs/demo/gate/code --out runs/demo/label_code --local-teacher

On a cluster (the key comes from the nodes' environment or a Kubernetes secret, never a file;
input and --out on storage every node can read; teacher.cache_path there too):
    ray job submit --working-dir . --runtime-env cluster/runtime_env.yaml -- \
        python jobs/label.py /mnt/shared/runs/paper/gate/code --out /mnt/shared/runs/paper/label \
        --teacher-url https://api.openai.com/v1 --model gpt-4.1 --rubric 3way \
        teacher.cache_path=/mnt/shared/teacher_cache.sqlite
"""

import sys

from tgrd.cli import main

if __name__ == "__main__":
    sys.exit(main(["label", "--engine", "ray", *sys.argv[1:]]))
