"""Student batch inference: a callable class usable in-process or as a Ray Data actor pool.

    from tgrd.student.predict import StudentPredictor, predict_dataset
    pred = StudentPredictor("runs/x/distill", batch_size=32)
    out = pred(table)          # pa.Table with id, messages → + predicted, prob_<CLASS>...
    out = predict_dataset(table, "runs/x/distill", cfg.score)    # the same on a Ray actor pool

Within each call, rows are sorted by token length and cut into micro-batches of ``batch_size``
(length bucketing: padding is bounded by neighbours' lengths, not the longest row of the
block), then restored to the input order. bf16 autocast on GPU; fp32 on CPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from tgrd.student.settings import ScoreConfig

if TYPE_CHECKING:
    from tgrd.storage import Mirror


class StudentPredictor:
    """Load a distilled student once; classify Arrow batches of canonical records."""

    def __init__(
        self,
        student_dir: str | Path,
        batch_size: int = 32,
        length_bucketing: bool = True,
        device: str | None = None,
        threads: int = 1,
        mirror: Mirror | None = None,
    ):
        import torch

        from tgrd.storage import localize
        from tgrd.student.model import load_student

        student_dir = localize(student_dir, mirror)  # fetched onto this node if mirrored
        torch.set_num_threads(threads)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model, self.tokenizer, self.meta = load_student(student_dir, device=self.device)
        self.cfg = self.meta["student"]["model"]
        self.classes = list(self.meta["classes"])
        self.batch_size, self.bucketing = batch_size, length_bucketing
        self.amp = torch.bfloat16 if self.device.startswith("cuda") else None

    def probabilities(self, messages: list[Any]) -> np.ndarray:
        """(N, C) class probabilities for a list of message lists."""
        import torch

        from tgrd.student.model import collate, encode, render

        texts = [render(m, self.tokenizer, self.cfg["rendering"]) for m in messages]
        ids = encode(texts, self.tokenizer, self.cfg["max_length"], self.cfg["head_frac"])
        order = (
            np.argsort([len(x) for x in ids], kind="stable")
            if self.bucketing
            else np.arange(len(ids))
        )
        probs = np.zeros((len(ids), len(self.classes)), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                sel = order[start : start + self.batch_size]
                x, mask = collate([ids[i] for i in sel], self.tokenizer.pad_token_id)
                with torch.autocast(
                    device_type=self.device.split(":")[0],
                    dtype=self.amp,
                    enabled=self.amp is not None,
                ):
                    logits = self.model(
                        input_ids=x.to(self.device), attention_mask=mask.to(self.device)
                    ).logits
                probs[sel] = torch.softmax(logits.float(), -1).cpu().numpy()
        return probs

    def __call__(self, batch: pa.Table) -> pa.Table:
        """Append ``predicted`` (class name) and ``prob_<CLASS>`` columns to ``batch``."""
        if batch.num_rows == 0:
            probs = np.zeros((0, len(self.classes)), dtype=np.float32)
        else:
            probs = self.probabilities(batch.column("messages").to_pylist())
        out = batch.append_column(
            "predicted", pa.array([self.classes[i] for i in probs.argmax(1)], pa.string())
        )
        for j, name in enumerate(self.classes):
            out = out.append_column(f"prob_{name}", pa.array(probs[:, j], pa.float32()))
        return out


def predict_dataset(table: pa.Table, student_dir: str | Path, cfg: ScoreConfig) -> pa.Table:
    """Classify ``table`` (needs ``messages``) on a Ray Data actor pool; Ray must be running.

    GPU actors (one GPU each) when the cluster has GPUs and ``cfg.use_gpu`` allows; otherwise
    CPU actors with fractional CPUs so read tasks are never starved (ENVIRONMENT.md).
    """
    import ray

    from tgrd.storage import active_mirror
    from tgrd.student.ray_train import resolve_use_gpu

    if table.num_rows == 0:
        return StudentPredictor(student_dir, cfg.batch_size)(table)
    if cfg.length_bucketing:  # neighbouring rows land in the same block: similar lengths per call
        chars = [
            sum(len(m.get("content") or "") for m in msgs or [])
            for msgs in table.column("messages").to_pylist()
        ]
        table = table.take(np.argsort(chars, kind="stable"))
    gpu = resolve_use_gpu(cfg.use_gpu)
    block_rows = cfg.batch_size * 8
    ds = ray.data.from_arrow(table).repartition(max(1, -(-table.num_rows // block_rows)))
    ds = ds.map_batches(
        StudentPredictor,
        fn_constructor_kwargs={
            "student_dir": str(Path(student_dir).resolve()),
            "batch_size": cfg.batch_size,
            "length_bucketing": cfg.length_bucketing,
            "threads": cfg.threads,
            "mirror": active_mirror(),
        },
        batch_size=block_rows,
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=cfg.actors),
        **({"num_gpus": 1} if gpu else {"num_cpus": cfg.actor_num_cpus}),
    )
    blocks = [ray.get(ref) for ref in ds.to_arrow_refs()]
    return pa.concat_tables(blocks)
