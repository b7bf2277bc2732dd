"""How one micro-batch is trained: plain PyTorch / DDP, or DeepSpeed ZeRO-2/3.

    engine = make_engine(model, cfg.train, total_steps, prepare=None, amp_dtype=None)
    loss, stepped = engine.micro_step(input_ids, mask, labels, class_weights, last_micro)
    engine.save(path, rank); engine.load(path); engine.trainable_state()

Both engines own the optimizer (AdamW) and the linear warmup/decay schedule, and expose the
same five methods, so tgrd/student/train.py's loop does not care which one runs.

* :class:`TorchEngine` — one process, or DDP when ``prepare`` wraps the model
  (``ray.train.torch.prepare_model``). Gradient accumulation skips DDP's all-reduce on all but
  the last micro-batch (``no_sync``). Rank 0 alone checkpoints (weights are replicated).
* :class:`ZeroEngine` — ``deepspeed.initialize`` with ZeRO stage 2 (optimizer state and
  gradients sharded) or 3 (parameters too); DeepSpeed owns accumulation, clipping and bf16.
  Every rank writes its shard of a checkpoint (Ray Train merges the files of all ranks into
  one checkpoint directory). Under ZeRO-3 every rank must run the same forwards, so
  validation runs the whole split on every rank (``distributed_eval`` False).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from tgrd.student.settings import StudentTrainConfig


def _optimizer_and_schedule(params, tc: StudentTrainConfig, total_steps: int):
    import torch

    optimizer = torch.optim.AdamW(params, lr=tc.lr, weight_decay=tc.weight_decay)
    warm = max(1, int(tc.warmup_frac * total_steps))
    decay = max(1, total_steps - warm)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warm, max(0.0, (total_steps - s) / decay))
    )
    return optimizer, scheduler


def _weighted_ce(logits, y, w):
    import torch

    return torch.nn.functional.cross_entropy(logits.float(), y, weight=w)


class TorchEngine:
    distributed_eval = True

    def __init__(
        self, model, tc: StudentTrainConfig, total_steps: int, prepare=None, amp_dtype=None
    ):
        self.model, self.tc, self.amp_dtype = model, tc, amp_dtype
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer, self.scheduler = _optimizer_and_schedule(self.params, tc, total_steps)
        self.net = prepare(model) if prepare is not None else model
        self.device_type = next(model.parameters()).device.type

    def micro_step(self, x, mask, y, w, last_micro: bool) -> tuple[float, bool]:
        import torch

        sync = self.net.no_sync() if hasattr(self.net, "no_sync") and not last_micro else None
        with sync or contextlib.nullcontext():
            with torch.autocast(
                self.device_type, self.amp_dtype, enabled=self.amp_dtype is not None
            ):
                loss = _weighted_ce(
                    self.net(input_ids=x, attention_mask=mask).logits, y, w
                )  # (B, C)
            (loss / self.tc.grad_accum).backward()
        if last_micro:
            torch.nn.utils.clip_grad_norm_(self.params, 1.0)
            self.optimizer.step()
            self.scheduler.step()
            self.optimizer.zero_grad(set_to_none=True)
        return loss.item(), last_micro

    def lr(self) -> float:
        return self.scheduler.get_last_lr()[0]

    def save(self, path: Path, rank: int) -> bool:
        import torch

        if rank != 0:
            return False
        path.mkdir(parents=True, exist_ok=True)
        blob = {
            "trainable": self.trainable_state(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
        }
        torch.save(blob, path / "train_state.pt")
        return True

    def load(self, path: Path) -> None:
        import torch

        blob = torch.load(path / "train_state.pt", map_location="cpu", weights_only=False)
        params = dict(self.model.named_parameters())
        with torch.no_grad():
            for name, value in blob["trainable"].items():
                params[name].copy_(value)
        self.optimizer.load_state_dict(blob["optimizer"])
        self.scheduler.load_state_dict(blob["scheduler"])

    def trainable_state(self) -> dict[str, Any]:
        return {
            n: p.detach().cpu().clone() for n, p in self.model.named_parameters() if p.requires_grad
        }

    def eval_model(self):
        return self.model


class ZeroEngine(TorchEngine):
    def __init__(
        self, model, tc: StudentTrainConfig, total_steps: int, prepare=None, amp_dtype=None
    ):
        import deepspeed

        self.model, self.tc, self.amp_dtype = model, tc, amp_dtype
        self.params = [p for p in model.parameters() if p.requires_grad]
        optimizer, scheduler = _optimizer_and_schedule(self.params, tc, total_steps)
        config = {
            "train_micro_batch_size_per_gpu": tc.batch_size,
            "gradient_accumulation_steps": tc.grad_accum,
            "gradient_clipping": 1.0,
            "zero_optimization": {"stage": tc.zero_stage},
            "zero_allow_untested_optimizer": True,  # torch AdamW over the adapter + head
            "bf16": {"enabled": amp_dtype is not None},
            "steps_per_print": 10**9,
        }
        self.net, self.optimizer, _, self.scheduler = deepspeed.initialize(
            model=model, optimizer=optimizer, lr_scheduler=scheduler, config=config
        )
        self.distributed_eval = tc.zero_stage < 3

    def micro_step(self, x, mask, y, w, last_micro: bool) -> tuple[float, bool]:
        # DeepSpeed counts micro-steps itself; its boundary decides when the optimizer steps.
        boundary = self.net.is_gradient_accumulation_boundary()
        logits = self.net(input_ids=x, attention_mask=mask).logits
        loss = _weighted_ce(logits, y, w.to(logits.dtype))
        self.net.backward(loss)
        self.net.step()
        return loss.item(), boundary

    def save(self, path: Path, rank: int) -> bool:
        self.net.save_checkpoint(str(path), tag="ds")  # collective: every rank writes its shard
        return True

    def load(self, path: Path) -> None:
        self.net.load_checkpoint(str(path), tag="ds")

    def trainable_state(self) -> dict[str, Any]:
        import deepspeed

        with deepspeed.zero.GatheredParameters(self.params, enabled=self.tc.zero_stage == 3):
            return super().trainable_state()

    def eval_model(self):
        return self.net.module


def make_engine(model, tc: StudentTrainConfig, total_steps: int, prepare=None, amp_dtype=None):
    """The engine ``tc.zero_stage`` asks for (0 → :class:`TorchEngine`)."""
    cls = ZeroEngine if tc.zero_stage else TorchEngine
    return cls(model, tc, total_steps, prepare=prepare, amp_dtype=amp_dtype)
