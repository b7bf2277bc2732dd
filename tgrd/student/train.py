"""The student's training loop: plain PyTorch, usable alone or inside a Ray Train worker.

    from tgrd.student.train import fit
    result = fit(cfg.student, examples)                  # one process, CPU or one GPU
    result.model, result.history                          # peft model, per-epoch metrics

``fit`` takes the rank/world size, a ``prepare`` hook (Ray's ``prepare_model`` → DDP) and a
``report`` hook (Ray's ``train.report`` with a checkpoint) from tgrd/student/ray_train.py; the
same code path runs without Ray. Per optimizer step it does ``grad_accum`` micro-batches of
class-weighted cross-entropy (bf16 autocast on GPU), clips gradients and steps AdamW with
linear warmup/decay; tgrd/student/engine.py does the step, with plain PyTorch/DDP or DeepSpeed
ZeRO-2/3 (``student.train.zero_stage``, which needs a process group: run it on Ray Train). Every ``checkpoint_every`` steps it writes a checkpoint (adapter + head
weights, optimizer, scheduler, position in the epoch); ``resume_dir`` restarts exactly there.
Validation each epoch: loss, accuracy, macro-F1, confusion matrix, agreement with the teacher
(accuracy on teacher-labelled validation examples), summed over ranks.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tgrd.student.data import (
    Examples,
    bucketed_batches,
    class_weights,
    shard_batches,
    stratified_split,
)
from tgrd.student.engine import TorchEngine, make_engine
from tgrd.student.evaluate import evaluate
from tgrd.student.model import (
    attach_lora,
    build_base,
    build_tokenizer,
    collate,
    encode,
    render,
    weights_checksum,
)
from tgrd.student.settings import StudentConfig


@dataclass
class FitResult:
    model: Any  # the peft model (unwrapped)
    tokenizer: Any
    history: list[dict[str, Any]]
    curve: list[dict[str, float]]
    meta: dict[str, Any] = field(default_factory=dict)


def fit(
    cfg: StudentConfig,
    data: Examples,
    *,
    rank: int = 0,
    world_size: int = 1,
    device: str = "cpu",
    prepare: Callable | None = None,
    report: Callable[[dict, Path | None], None] | None = None,
    resume_dir: str | Path | None = None,
    checkpoint_root: str | Path | None = None,
) -> FitResult:
    """Train the student on ``data`` (see the module docstring); returns the trained model.

    Args:
        prepare: wraps the model for distributed training (``ray.train.torch.prepare_model``).
        report: called on every rank with (metrics, checkpoint dir or None) at each checkpoint
            and epoch end (Ray needs every rank to report the same number of times).
        resume_dir: a checkpoint written by this function; training continues from it.
        checkpoint_root: where checkpoints go when there is no ``report`` (plain runs).
    """
    import torch

    tc = cfg.train
    torch.set_num_threads(tc.threads)
    use_gpu = torch.device(device).type == "cuda"
    bf16 = tc.precision == "bf16" or (tc.precision == "auto" and use_gpu)
    amp_dtype = torch.bfloat16 if bf16 else None
    tok, model, base_checksum = _build(cfg, data.classes)
    model = model.to(device)
    texts = [render(m, tok, cfg.model.rendering) for m in data.messages]
    ids = encode(texts, tok, cfg.model.max_length, cfg.model.head_frac)
    tr, va = stratified_split(data.labels, cfg.data.val_frac, seed=cfg.data.seed)
    weights = class_weights(data.labels[tr], len(data.classes), cfg.data.class_weights)
    teacher = np.array([o == "teacher" for o in data.origin])
    w = torch.tensor(weights, dtype=torch.float32, device=device)
    lengths = [len(ids[i]) for i in tr]
    per_rank = len(
        shard_batches(bucketed_batches(lengths, tc.batch_size, 0, False), rank, world_size)
    )
    total = max(1, math.ceil(per_rank / tc.grad_accum) * tc.epochs)
    engine = make_engine(model, tc, total, prepare=prepare, amp_dtype=amp_dtype)
    state = {
        "step": 0,
        "epoch": 0,
        "micro": 0,
        "history": [],
        "curve": [],
        "resumed_from_step": None,
    }
    if resume_dir is not None:
        engine.load(Path(resume_dir))
        state = json.loads((Path(resume_dir) / "state.json").read_text())
        state["resumed_from_step"] = state["step"]
    torch.manual_seed(tc.seed + 1000 * rank + state["step"])
    fault_armed = tc.inject_fault_at_step is not None and resume_dir is None

    def checkpoint(metrics: dict[str, Any]) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(checkpoint_root or tmp) / f"step_{state['step']:06d}"
            wrote = engine.save(path, rank)
            if rank == 0:  # written last: marks the checkpoint complete (latest_checkpoint)
                (path / "state.json").write_text(json.dumps(state))
            if report is not None:
                report(metrics, path if wrote else None)

    engine.net.train()
    for epoch in range(state["epoch"], tc.epochs):
        seed = tc.seed * 7919 + epoch
        order = bucketed_batches(
            lengths, tc.batch_size, seed, tc.length_bucketing, tc.bucket_window
        )
        batches = shard_batches(order, rank, world_size)
        t0, tokens, running = time.perf_counter(), 0, []
        for j in range(state["micro"], len(batches)):
            sel = tr[batches[j]]
            x, mask = collate([ids[i] for i in sel], tok.pad_token_id)
            y = torch.as_tensor(data.labels[sel], device=device)
            last_micro = (j + 1) % tc.grad_accum == 0 or j + 1 == len(batches)
            loss, stepped = engine.micro_step(x.to(device), mask.to(device), y, w, last_micro)
            running.append(loss)
            tokens += int(mask.sum())
            state["micro"] = j + 1
            if not stepped:
                continue
            state["step"] += 1
            point = {"step": state["step"], "loss": float(np.mean(running)), "lr": engine.lr()}
            state["curve"].append(point)
            running = []
            if state["step"] % tc.checkpoint_every == 0:
                checkpoint({"step": state["step"], "epoch": epoch, "loss": point["loss"]})
            if fault_armed and state["step"] == tc.inject_fault_at_step and rank == 0:
                msg = f"injected fault at step {state['step']} (student.train.inject_fault_at_step)"
                raise RuntimeError(msg)
        share = va[rank::world_size] if engine.distributed_eval else va
        val = evaluate(engine.eval_model(), [ids[i] for i in share], data.labels[share],
                       teacher[share], weights, tok.pad_token_id, tc.batch_size, device, amp_dtype,
                       reduce=engine.distributed_eval)  # fmt: skip
        secs = time.perf_counter() - t0
        state["history"].append({
            "epoch": epoch + 1, "step": state["step"], "val": val, "seconds": round(secs, 3),
            "train_tokens_per_s_rank": round(tokens / secs, 1) if secs else None,
        })  # fmt: skip
        state["epoch"], state["micro"] = epoch + 1, 0
        checkpoint({"step": state["step"], "epoch": epoch + 1, "val_loss": val["loss"],
                    "val_accuracy": val["accuracy"], "val_macro_f1": val["macro_f1"]})  # fmt: skip
    if type(engine) is not TorchEngine:
        # DeepSpeed wraps (and under ZeRO-3 partitions) the model: hand back a plain copy.
        trained = engine.trainable_state()
        _, model, _ = _build(cfg, data.classes)
        model.load_state_dict(trained, strict=False)
    meta = {
        "classes": list(data.classes), "base_seed": tc.seed, "base_checksum": base_checksum,
        "class_weights": weights, "train_examples": int(len(tr)), "val_examples": int(len(va)),
        "resumed_from_step": state["resumed_from_step"], "steps": state["step"],
    }  # fmt: skip
    return FitResult(model, tok, state["history"], state["curve"], meta)


def _build(cfg: StudentConfig, classes: tuple[str, ...]):
    """(tokenizer, LoRA-wrapped classifier, checksum of the base before LoRA)."""
    tok = build_tokenizer(cfg.model)
    base = build_base(cfg.model, tok, len(classes), dict(enumerate(classes)), seed=cfg.train.seed)
    checksum = weights_checksum(base)
    return tok, attach_lora(base, cfg.lora, seed=cfg.train.seed), checksum


def latest_checkpoint(root: str | Path) -> Path | None:
    """The highest ``step_*`` directory under ``root`` that finished writing, or None."""
    done = sorted(p for p in Path(root).glob("step_*") if (p / "state.json").is_file())
    return done[-1] if done else None
