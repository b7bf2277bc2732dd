"""The student's training loop: plain PyTorch, usable alone or inside a Ray Train worker.

    from tgrd.student.train import fit
    result = fit(cfg.student, examples)                  # one process, CPU or one GPU
    result.model, result.history                          # peft model, per-epoch metrics

``fit`` takes the rank/world size, a ``prepare`` hook (Ray's ``prepare_model`` → DDP) and a
``report`` hook (Ray's ``train.report`` with a checkpoint) from tgrd/student/ray_train.py; the
same code path runs without Ray. Per optimizer step it does ``grad_accum`` micro-batches of
class-weighted cross-entropy (bf16 autocast on GPU), clips gradients and steps AdamW with
linear warmup/decay. Every ``checkpoint_every`` steps it writes a checkpoint (adapter + head
weights, optimizer, scheduler, position in the epoch); ``resume_dir`` restarts exactly there.
Validation each epoch: loss, accuracy, macro-F1, confusion matrix, agreement with the teacher
(accuracy on teacher-labelled validation examples), summed over ranks.
"""

from __future__ import annotations

import contextlib
import json
import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tgrd.student.data import Examples, bucketed_batches, class_weights, shard_batches, stratified_split
from tgrd.student.model import attach_lora, build_base, build_tokenizer, collate, encode, render, weights_checksum
from tgrd.student.settings import StudentConfig


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> dict[str, Any]:
    """Accuracy, macro-F1 (over classes present in truth or prediction) and the confusion matrix."""
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)  # rows: truth, columns: prediction
    np.add.at(cm, (y_true, y_pred), 1)
    return metrics_from_confusion(cm)


def metrics_from_confusion(cm: np.ndarray) -> dict[str, Any]:
    tp = np.diag(cm).astype(float)
    support, predicted = cm.sum(1), cm.sum(0)
    present = (support + predicted) > 0
    f1 = np.divide(2 * tp, support + predicted, out=np.zeros_like(tp), where=present)
    total = cm.sum()
    return {
        "accuracy": float(tp.sum() / total) if total else float("nan"),
        "macro_f1": float(f1[present].mean()) if present.any() else float("nan"),
        "f1": f1.tolist(),
        "confusion": cm.tolist(),
    }


@dataclass
class FitResult:
    model: Any  # the peft model (unwrapped)
    tokenizer: Any
    history: list[dict[str, Any]]
    curve: list[dict[str, float]]
    meta: dict[str, Any] = field(default_factory=dict)


def _all_reduce(array: np.ndarray) -> np.ndarray:
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return array
    t = torch.tensor(array, dtype=torch.float64)
    dist.all_reduce(t)
    return t.numpy()


def evaluate(model, ids: list[list[int]], labels: np.ndarray, teacher_mask: np.ndarray, weights, pad_id: int,
             batch_size: int, device, amp_dtype) -> dict[str, Any]:  # fmt: skip
    """Validation metrics over this rank's share; counts are summed across ranks when distributed."""
    import torch

    n_cls = len(weights)
    cm, cm_teacher = np.zeros((n_cls, n_cls)), np.zeros((n_cls, n_cls))
    loss_sum = np.zeros(2)  # weighted loss sum, weight sum
    w = torch.tensor(weights, dtype=torch.float32, device=device)
    order = np.argsort([len(x) for x in ids], kind="stable")  # eval batches by length: less padding
    model.eval()
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            sel = order[start : start + batch_size]
            x, mask = collate([ids[i] for i in sel], pad_id)
            y = torch.as_tensor(labels[sel], device=device)
            with torch.autocast(device_type=torch.device(device).type, dtype=amp_dtype, enabled=amp_dtype is not None):
                logits = model(input_ids=x.to(device), attention_mask=mask.to(device)).logits.float()
            loss_sum += [torch.nn.functional.cross_entropy(logits, y, weight=w, reduction="sum").item(), w[y].sum().item()]
            pred = logits.argmax(-1).cpu().numpy()
            np.add.at(cm, (labels[sel], pred), 1)
            t = teacher_mask[sel]
            np.add.at(cm_teacher, (labels[sel][t], pred[t]), 1)
    model.train()
    cm, cm_teacher, loss_sum = _all_reduce(cm), _all_reduce(cm_teacher), _all_reduce(loss_sum)
    out = metrics_from_confusion(cm.astype(np.int64))
    out["loss"] = float(loss_sum[0] / loss_sum[1]) if loss_sum[1] else float("nan")
    out["agreement_with_teacher"] = metrics_from_confusion(cm_teacher.astype(np.int64))["accuracy"]
    out["n"] = int(cm.sum())
    return out


def _save_checkpoint(path: Path, model, optimizer, scheduler, state: dict[str, Any]) -> None:
    import torch

    path.mkdir(parents=True, exist_ok=True)
    trainable = {n: p.detach().cpu() for n, p in model.named_parameters() if p.requires_grad}
    torch.save({"trainable": trainable, "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()},
               path / "train_state.pt")  # fmt: skip
    (path / "state.json").write_text(json.dumps(state))


def _load_checkpoint(path: Path, model, optimizer, scheduler) -> dict[str, Any]:
    import torch

    blob = torch.load(path / "train_state.pt", map_location="cpu", weights_only=False)
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in blob["trainable"].items():
            params[name].copy_(value)
    optimizer.load_state_dict(blob["optimizer"])
    scheduler.load_state_dict(blob["scheduler"])
    return json.loads((path / "state.json").read_text())


def fit(cfg: StudentConfig, data: Examples, *, rank: int = 0, world_size: int = 1, device: str = "cpu",
        prepare: Callable | None = None, report: Callable[[dict, Path | None], None] | None = None,
        resume_dir: str | Path | None = None, checkpoint_root: str | Path | None = None) -> FitResult:  # fmt: skip
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
    amp_dtype = torch.bfloat16 if (tc.precision == "bf16" or (tc.precision == "auto" and use_gpu)) else None
    tok = build_tokenizer(cfg.model)
    base = build_base(cfg.model, tok, len(data.classes), dict(enumerate(data.classes)), seed=tc.seed)
    base_checksum = weights_checksum(base)
    model = attach_lora(base, cfg.lora, seed=tc.seed).to(device)
    ids = encode([render(m, tok, cfg.model.rendering) for m in data.messages], tok, cfg.model.max_length,
                 cfg.model.head_frac)  # fmt: skip
    tr, va = stratified_split(data.labels, cfg.data.val_frac, seed=cfg.data.seed)
    weights = class_weights(data.labels[tr], len(data.classes), cfg.data.class_weights)
    teacher = np.array([o == "teacher" for o in data.origin])
    w = torch.tensor(weights, dtype=torch.float32, device=device)
    lengths = [len(ids[i]) for i in tr]
    per_epoch = len(shard_batches(bucketed_batches(lengths, tc.batch_size, 0, False), rank, world_size))
    steps_per_epoch = math.ceil(per_epoch / tc.grad_accum)
    total = max(1, steps_per_epoch * tc.epochs)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=tc.lr, weight_decay=tc.weight_decay)
    warm = max(1, int(tc.warmup_frac * total))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    state = {"step": 0, "epoch": 0, "micro": 0, "history": [], "curve": [], "resumed_from_step": None}
    if resume_dir is not None:
        state = _load_checkpoint(Path(resume_dir), model, optimizer, scheduler)
        state["resumed_from_step"] = state["step"]
    net = prepare(model) if prepare is not None else model
    torch.manual_seed(tc.seed + 1000 * rank + state["step"])
    fault_armed = tc.inject_fault_at_step is not None and resume_dir is None

    def checkpoint(metrics: dict[str, Any]) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = None
            if rank == 0:  # adapter weights are replicated under DDP: one copy is enough
                path = Path(checkpoint_root or tmp) / f"step_{state['step']:06d}"
                _save_checkpoint(path, model, optimizer, scheduler, state)
            if report is not None:
                report(metrics, path)

    net.train()
    for epoch in range(state["epoch"], tc.epochs):
        batches = shard_batches(bucketed_batches(lengths, tc.batch_size, tc.seed * 7919 + epoch, tc.length_bucketing,
                                                 tc.bucket_window), rank, world_size)  # fmt: skip
        t0, tokens, running = time.perf_counter(), 0, []
        for j in range(state["micro"], len(batches)):
            sel = tr[batches[j]]
            x, mask = collate([ids[i] for i in sel], tok.pad_token_id)
            y = torch.as_tensor(data.labels[sel], device=device)
            last_micro = (j + 1) % tc.grad_accum == 0 or j + 1 == len(batches)
            sync = net.no_sync() if (hasattr(net, "no_sync") and not last_micro) else contextlib.nullcontext()
            with sync, torch.autocast(device_type="cuda" if use_gpu else "cpu", dtype=amp_dtype,
                                      enabled=amp_dtype is not None):  # fmt: skip
                logits = net(input_ids=x.to(device), attention_mask=mask.to(device)).logits.float()  # (B, C)
                loss = torch.nn.functional.cross_entropy(logits, y, weight=w)
                (loss / tc.grad_accum).backward()
            running.append(loss.item())
            tokens += int(mask.sum())
            state["micro"] = j + 1
            if not last_micro:
                continue
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            state["step"] += 1
            state["curve"].append({"step": state["step"], "loss": float(np.mean(running)),
                                   "lr": scheduler.get_last_lr()[0]})  # fmt: skip
            running = []
            if state["step"] % tc.checkpoint_every == 0:
                checkpoint({"step": state["step"], "epoch": epoch, "loss": state["curve"][-1]["loss"]})
            if fault_armed and state["step"] == tc.inject_fault_at_step and rank == 0:
                raise RuntimeError(f"injected fault at step {state['step']} (student.train.inject_fault_at_step)")
        val = evaluate(model, [ids[i] for i in va[rank::world_size]], data.labels[va[rank::world_size]],
                       teacher[va[rank::world_size]], weights, tok.pad_token_id, tc.batch_size, device, amp_dtype)  # fmt: skip
        secs = time.perf_counter() - t0
        state["history"].append({"epoch": epoch + 1, "step": state["step"], "val": val, "seconds": round(secs, 3),
                                 "train_tokens_per_s_rank": round(tokens / secs, 1) if secs else None})  # fmt: skip
        state["epoch"], state["micro"] = epoch + 1, 0
        checkpoint({"step": state["step"], "epoch": epoch + 1, "val_loss": val["loss"],
                    "val_accuracy": val["accuracy"], "val_macro_f1": val["macro_f1"]})  # fmt: skip
    meta = {"classes": list(data.classes), "base_seed": tc.seed, "base_checksum": base_checksum,
            "class_weights": weights, "train_examples": int(len(tr)), "val_examples": int(len(va)),
            "resumed_from_step": state["resumed_from_step"], "steps": state["step"]}  # fmt: skip
    return FitResult(model, tok, state["history"], state["curve"], meta)


def latest_checkpoint(root: str | Path) -> Path | None:
    """The highest ``step_*`` directory under ``root`` that finished writing, or None."""
    done = sorted(p for p in Path(root).glob("step_*") if (p / "state.json").is_file())
    return done[-1] if done else None
