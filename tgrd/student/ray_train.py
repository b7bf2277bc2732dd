"""Student training on Ray Train: ``train_loop_per_worker`` for a ``TorchTrainer``, and a launcher.

Each worker reads the gate and label outputs, builds the same student (same seed), takes its
round-robin share of every epoch's batches and runs :func:`tgrd.student.train.fit`; gradients of
the adapter and head are all-reduced by DDP (gloo on CPU, NCCL on GPU). Rank 0 reports a
checkpoint every ``checkpoint_every`` optimizer steps; with ``FailureConfig(max_failures)`` a
crashed worker group restarts and resumes from the last reported checkpoint
(``ray.train.get_checkpoint()``). The last report carries the finished student directory.

    from tgrd.student.ray_train import train_with_ray
    final_dir = train_with_ray(cfg.student, "gate/gated.parquet", "label/labels.parquet", "runs/x/distill")
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from tgrd.student.settings import StudentConfig


def train_loop_per_worker(config: dict[str, Any]) -> None:
    """Ray Train entry point; ``config`` holds ``student`` (dict), ``gated`` and ``labels`` paths."""
    import ray.train
    import ray.train.torch

    from tgrd.storage import localize
    from tgrd.student.data import build_examples
    from tgrd.student.train import fit
    from tgrd.student.training_record import save_final

    cfg = StudentConfig.model_validate(config["student"])
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    mirror = config.get("mirror")  # a run mirrored to a URI: fetch the inputs onto this node
    data = build_examples(
        localize(config["gated"], mirror), localize(config["labels"], mirror), cfg.data
    )

    def report(metrics: dict[str, Any], path: Path | None) -> None:
        scalars = {k: v for k, v in metrics.items() if isinstance(v, (int, float))}
        ckpt = ray.train.Checkpoint.from_directory(str(path)) if path is not None else None
        ray.train.report(scalars, checkpoint=ckpt)

    resume_dir = None
    restored = ray.train.get_checkpoint()
    if restored is not None:  # a restart after a failure: continue from the last checkpoint
        resume_dir = restored.to_directory()
    result = fit(
        cfg,
        data,
        rank=rank,
        world_size=world,
        device=str(ray.train.torch.get_device()),
        prepare=ray.train.torch.prepare_model,
        report=report,
        resume_dir=resume_dir,
    )
    with tempfile.TemporaryDirectory() as tmp:
        final = None
        if rank == 0:
            final = save_final(result, data, cfg, Path(tmp) / "student")
        last = result.history[-1]["val"] if result.history else {}
        report({"final": 1, "val_accuracy": last.get("accuracy", float("nan"))}, final)


def resolve_use_gpu(flag: bool | str) -> bool:
    """``"auto"`` → True when the Ray cluster has GPUs."""
    if flag != "auto":
        return bool(flag)
    import ray

    return ray.cluster_resources().get("GPU", 0) > 0


def train_with_ray(
    cfg: StudentConfig,
    gated: str | Path,
    labels: str | Path,
    out_dir: str | Path,
    run_name: str = "distill",
) -> Path:
    """Fit with a ``TorchTrainer`` of ``cfg.train.num_workers`` workers; Ray must be initialised.

    The finished student is copied to ``out_dir/student``; Ray's run state (checkpoints) lives
    in ``out_dir/ray``: on a multi-node cluster that is shared storage, or the run's URI when
    it is mirrored to cloud storage (tgrd/storage.py; workers then fetch their inputs).

    Returns:
        The student directory.
    """
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    from tgrd.storage import active_mirror, storage_path

    tc = cfg.train
    use_gpu = resolve_use_gpu(tc.use_gpu)
    out = Path(out_dir).resolve()
    trainer = TorchTrainer(
        train_loop_per_worker,
        train_loop_config={
            "student": cfg.model_dump(mode="json"),
            "gated": str(Path(gated).resolve()),
            "labels": str(Path(labels).resolve()),
            "mirror": active_mirror(),
        },
        scaling_config=ScalingConfig(
            num_workers=tc.num_workers,
            use_gpu=use_gpu,
            resources_per_worker={"GPU": 1} if use_gpu else {"CPU": tc.worker_cpus},
        ),
        torch_config=TorchConfig(backend="nccl" if use_gpu else "gloo"),
        run_config=RunConfig(
            name=run_name,
            storage_path=storage_path(out / "ray"),
            failure_config=FailureConfig(max_failures=tc.max_failures),
            checkpoint_config=CheckpointConfig(num_to_keep=2),
        ),
    )
    result = trainer.fit()
    if result.error is not None:
        raise result.error
    if result.checkpoint is None:
        raise RuntimeError(f"Ray Train run {run_name!r} finished without a checkpoint")
    dest = out / "student"
    if dest.exists():
        shutil.rmtree(dest)
    with result.checkpoint.as_directory() as src:
        shutil.copytree(src, dest)
    return dest
