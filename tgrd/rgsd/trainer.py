"""The RGSD training step and loop: one on-policy rollout per prompt, teacher = adapter disabled.

Per step, for each prompt of the batch (paper §3):

1. sample one response from the student (LoRA on, prompt without the rubric);
2. score it under the student and under the teacher (same weights, ``disable_adapter()``, prompt
   with the rubric), the teacher under ``no_grad``;
3. minimise a per-token divergence over the full vocabulary on the response tokens.

The loop checkpoints every ``checkpoint_every`` steps (adapter, optimizer, history) and resumes
from the latest checkpoint. Each step's prompts and sampling seed derive from (seed, step, rank),
so an interrupted-and-resumed run matches an uninterrupted one. Usable without Ray:

    model = attach_lora(base, cfg.lora)
    history = train(model, rgsd_objective(tokenizer, cfg.train), tasks, cfg.train, "runs/x/ckpt")

tgrd/rgsd/distributed.py runs the same loop under Ray Train's ``TorchTrainer``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from tgrd.rgsd.losses import chunked_divergence_loss
from tgrd.rgsd.model import load_trainable_state, trainable_state
from tgrd.rgsd.rollout import (
    decode_response,
    encode,
    pair_batch,
    render_student,
    render_teacher,
    response_hidden,
    sample_responses,
)
from tgrd.rgsd.rubrics import RubricTask, satisfaction
from tgrd.rgsd.settings import RgsdTrainConfig
from tgrd.rgsd.tasks import stable_seed

# objective(model, tasks) → (scalar loss, stats); stats are floats logged per step.
Objective = Callable[[Any, Sequence[RubricTask]], tuple[torch.Tensor, dict[str, float]]]


def model_parts(peft_model) -> tuple[torch.nn.Module, torch.nn.Module]:
    """(decoder body without LM head, LM head) of a peft-wrapped causal LM."""
    base = peft_model.get_base_model()
    return base.model, base.get_output_embeddings()


def rgsd_objective(tokenizer, cfg: RgsdTrainConfig) -> Objective:
    """The RGSD loss for a batch of tasks (sampling included), as an :data:`Objective`."""

    def objective(model, tasks: Sequence[RubricTask]) -> tuple[torch.Tensor, dict[str, float]]:
        device = next(model.parameters()).device
        student_prompts = encode(
            tokenizer, [render_student(t, cfg.student_template) for t in tasks]
        )
        teacher_prompts = encode(
            tokenizer, [render_teacher(t, cfg.teacher_template) for t in tasks]
        )
        responses = sample_responses(
            model, tokenizer, student_prompts, cfg.temperature, cfg.top_p, cfg.max_new_tokens
        )
        s_batch = pair_batch(student_prompts, responses, tokenizer.pad_token_id).to(device)
        t_batch = pair_batch(teacher_prompts, responses, tokenizer.pad_token_id).to(device)
        body, head = model_parts(model)
        # The teacher: same weights, adapter off, rubric in the prompt; never differentiated.
        with torch.no_grad(), model.disable_adapter():
            t_hidden = response_hidden(body, t_batch)  # (B, R, H)
        s_hidden = response_hidden(body, s_batch)  # (B, R, H)
        loss = chunked_divergence_loss(
            s_hidden,
            t_hidden,
            head,
            s_batch.response_mask,
            cfg.divergence,
            cfg.jsd_beta,
            cfg.chunk_size,
        )
        # Rule-checked satisfaction of the rollouts: logged only, never part of the loss.
        texts = [decode_response(tokenizer, r) for r in responses]
        sat = sum(satisfaction(x, t.rubric) for x, t in zip(texts, tasks, strict=True)) / len(tasks)
        stats = {
            "rollout_satisfaction": sat,
            "rollout_tokens": float(s_batch.response_mask.sum()),
            "rollout_words": sum(len(x.split()) for x in texts) / len(texts),
        }
        return loss, stats

    return objective


def step_tasks(
    tasks: Sequence[RubricTask],
    step: int,
    batch_size: int,
    seed: int,
    rank: int = 0,
    world_size: int = 1,
):
    """This rank's share of step ``step``'s prompts (a deterministic draw from ``tasks``)."""
    rng = random.Random(stable_seed("rgsd-batch", seed, step))
    batch = rng.sample(list(tasks), min(batch_size, len(tasks)))
    share = batch[rank::world_size]
    if not share:
        raise ValueError(
            f"batch_size {batch_size} leaves rank {rank} of {world_size} without prompts"
        )
    return share


def train_step(
    model, optimizer, objective: Objective, tasks: Sequence[RubricTask], grad_clip: float = 1.0
) -> dict:
    """One optimisation step; averages adapter gradients across ranks when distributed.

    Returns:
        stats from the objective plus ``loss`` and ``grad_norm``.
    """
    model.train()
    optimizer.zero_grad(set_to_none=True)
    loss, stats = objective(model, tasks)
    loss.backward()
    params = [p for p in model.parameters() if p.requires_grad]
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        # Only the small adapter is trainable: one flat all-reduce replaces a DDP wrapper, which
        # would also get in the way of generate() and disable_adapter() on the inner model.
        world = torch.distributed.get_world_size()
        flat = torch.cat(
            [
                p.grad.reshape(-1) if p.grad is not None else torch.zeros_like(p).reshape(-1)
                for p in params
            ]
        )
        torch.distributed.all_reduce(flat)
        flat /= world
        offset = 0
        for p in params:
            p.grad = flat[offset : offset + p.numel()].view_as(p).clone()
            offset += p.numel()
    grad_norm = torch.nn.utils.clip_grad_norm_(params, grad_clip)
    optimizer.step()
    return {"loss": float(loss.detach()), "grad_norm": float(grad_norm), **stats}


def make_optimizer(model, lr: float) -> torch.optim.Optimizer:
    """AdamW over the adapter parameters only (the base stays frozen)."""
    return torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.0
    )


# --- checkpoints ---------------------------------------------------------------------------------


def save_checkpoint(ckpt_dir: str | Path, step: int, model, optimizer, history: list[dict]) -> Path:
    """Write ``ckpt_dir/step_000050/state.pt`` atomically (tmp dir, then rename)."""
    path = Path(ckpt_dir) / f"step_{step:06d}"
    tmp = path.with_name(path.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    state = {
        "step": step,
        "adapter": trainable_state(model),
        "optimizer": optimizer.state_dict(),
        "history": history,
    }
    torch.save(state, tmp / "state.pt")
    if path.exists():
        for f in path.iterdir():
            f.unlink()
        path.rmdir()
    tmp.rename(path)
    return path


def latest_checkpoint(ckpt_dir: str | Path) -> Path | None:
    """The highest-step complete checkpoint under ``ckpt_dir``, or None."""
    root = Path(ckpt_dir)
    found = sorted(
        p
        for p in root.glob("step_*")
        if p.is_dir() and (p / "state.pt").exists() and not p.name.endswith(".tmp")
    )
    return found[-1] if found else None


def load_checkpoint(path: str | Path, model, optimizer=None) -> tuple[int, list[dict]]:
    """Restore adapter (and optimizer) from a checkpoint dir; returns (step, history)."""
    state = torch.load(Path(path) / "state.pt", map_location="cpu", weights_only=True)
    load_trainable_state(model, state["adapter"])
    if optimizer is not None:
        optimizer.load_state_dict(state["optimizer"])
    return int(state["step"]), list(state["history"])


def train(
    model,
    objective: Objective,
    tasks: Sequence[RubricTask],
    cfg: RgsdTrainConfig,
    ckpt_dir: str | Path,
    seed: int = 0,
    steps: int | None = None,
    rank: int = 0,
    world_size: int = 1,
    log: Callable[[dict], None] | None = None,
    on_checkpoint: Callable[[Path | None, dict], None] | None = None,
    resume_from: str | Path | None = None,
) -> list[dict]:
    """Run (or resume) the loop up to ``steps`` (default ``cfg.steps``); returns the history.

    Resumes from ``resume_from`` if given, else from the latest checkpoint in ``ckpt_dir``. Only
    rank 0 writes checkpoints; ``on_checkpoint(path_or_None, stats)`` is called on every rank at
    checkpoint steps (Ray Train needs every worker to report).
    """
    steps = cfg.steps if steps is None else steps
    optimizer = make_optimizer(model, cfg.lr)
    start, history = 0, []
    resume = Path(resume_from) if resume_from is not None else latest_checkpoint(ckpt_dir)
    if resume is not None:
        start, history = load_checkpoint(resume, model, optimizer)
    for step in range(start + 1, steps + 1):
        # Same prompts and same rollouts for a given (seed, step, rank), resumed or not.
        torch.manual_seed(stable_seed("rgsd-step", seed, step, rank))
        batch = step_tasks(tasks, step, cfg.batch_size, seed, rank, world_size)
        stats = {"step": step, **train_step(model, optimizer, objective, batch, cfg.grad_clip)}
        history.append(stats)
        if log is not None:
            log(stats)
        if step % cfg.checkpoint_every == 0 or step == steps:
            path = save_checkpoint(ckpt_dir, step, model, optimizer, history) if rank == 0 else None
            if on_checkpoint is not None:
                on_checkpoint(path, stats)
    return history
