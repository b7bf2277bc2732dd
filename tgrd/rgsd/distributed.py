"""RGSD under Ray Train: ``train_loop_per_worker`` for a ``TorchTrainer`` and a launcher.

Each worker loads the saved base model, attaches the same LoRA init (same seed), takes its
share of every step's prompts, and runs :func:`tgrd.rgsd.trainer.train`; adapter gradients are
all-reduced (gloo on CPU, NCCL on GPU). Rank 0 writes checkpoints into ``ckpt_dir`` and reports
them to Ray Train; a restarted run resumes from Ray's checkpoint, else from the latest in
``ckpt_dir``.

    from tgrd.rgsd.distributed import fit_with_ray
    history = fit_with_ray(cfg.rgsd, base_dir="runs/rgsd/base", tasks_path="runs/rgsd/data/train.jsonl",
                           out_dir="runs/rgsd/rgsd")      # needs ray.init() first
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tgrd.rgsd.settings import RgsdConfig


def train_loop_per_worker(config: dict[str, Any]) -> None:
    """Ray Train worker entry point; ``config`` holds rgsd (dict), base_dir, tasks_path, ckpt_dir, seed."""
    import ray.train
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tgrd.rgsd.model import attach_lora
    from tgrd.rgsd.rubrics import read_tasks
    from tgrd.rgsd.trainer import rgsd_objective, train
    from tgrd.storage import localize

    cfg = RgsdConfig.model_validate(config["rgsd"])
    torch.set_num_threads(cfg.train.threads)
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    device = ray.train.torch.get_device()
    mirror = config.get("mirror")  # a run mirrored to a URI: fetch the inputs onto this node
    base_dir = localize(config["base_dir"], mirror)
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    base = AutoModelForCausalLM.from_pretrained(base_dir).to(device)
    model = attach_lora(base, cfg.lora, seed=config["seed"])
    tasks = read_tasks(localize(config["tasks_path"], mirror))

    def report(path: Path | None, stats: dict) -> None:
        metrics = {k: v for k, v in stats.items() if isinstance(v, (int, float))}
        if path is not None:
            ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(str(path)))
        else:
            ray.train.report(metrics)

    resume_from = None
    checkpoint = ray.train.get_checkpoint()
    if checkpoint is not None:  # Ray restored this run (worker failure or restarted job)
        resume_from = checkpoint.to_directory()
    train(
        model,
        rgsd_objective(tokenizer, cfg.train),
        tasks,
        cfg.train,
        config["ckpt_dir"],
        seed=config["seed"],
        steps=config.get("steps"),
        rank=rank,
        world_size=world,
        on_checkpoint=report,
        resume_from=resume_from,
    )


def fit_with_ray(
    cfg: RgsdConfig,
    base_dir: str | Path,
    tasks_path: str | Path,
    out_dir: str | Path,
    seed: int = 0,
    steps: int | None = None,
    use_gpu: bool = False,
) -> Path:
    """Run RGSD with a ``TorchTrainer`` of ``cfg.train.num_workers`` workers.

    Ray must already be initialised. Checkpoints go to ``out_dir/checkpoints`` on rank 0's node
    and to Ray's run state in ``out_dir/ray`` (the run's URI when it is mirrored to cloud
    storage); when rank 0 ran on another node, the final one is copied here from Ray's.

    Returns:
        The final checkpoint directory (load it with ``trainer.load_checkpoint``).
    """
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    from tgrd.rgsd.trainer import latest_checkpoint
    from tgrd.storage import active_mirror, storage_path

    out = Path(out_dir).resolve()
    ckpt_dir = out / "checkpoints"
    trainer = TorchTrainer(
        train_loop_per_worker,
        train_loop_config={
            "rgsd": cfg.model_dump(mode="json"),
            "base_dir": str(Path(base_dir).resolve()),
            "tasks_path": str(Path(tasks_path).resolve()),
            "ckpt_dir": str(ckpt_dir),
            "seed": seed,
            "steps": steps,
            "mirror": active_mirror(),
        },
        scaling_config=ScalingConfig(
            num_workers=cfg.train.num_workers,
            use_gpu=use_gpu,
            resources_per_worker={"CPU": 1},
        ),
        torch_config=TorchConfig(backend="nccl" if use_gpu else "gloo"),
        run_config=RunConfig(name="rgsd", storage_path=storage_path(out / "ray")),
    )
    result = trainer.fit()
    if result.error is not None:
        raise result.error
    final = latest_checkpoint(ckpt_dir)
    if final is None and result.checkpoint is not None:  # rank 0 ran on another node
        import shutil

        import torch

        with result.checkpoint.as_directory() as src:
            step = torch.load(Path(src) / "state.pt", map_location="cpu", weights_only=True)["step"]
            shutil.copytree(src, ckpt_dir / f"step_{step:06d}")
        final = latest_checkpoint(ckpt_dir)
    if final is None:
        raise RuntimeError(f"Ray Train finished without a checkpoint in {ckpt_dir}")
    return final
