"""Training data for the student: gated records joined with teacher labels, splits and batches.

    from tgrd.student.data import build_examples, stratified_split, class_weights, bucketed_batches
    data = build_examples("runs/x/gate/gated.parquet", "runs/x/label/labels.parquet", cfg.student.data)
    train_idx, val_idx = stratified_split(data.labels, 0.2, seed=0)

Labelling (DESIGN.md §1, paper §3):

* ``3way`` (tool+distilled): a gate failure gets the automatic label ``gate_fail_label``
  (default INCORRECT: a gate failure scores 0 like INCORRECT, and the student then also learns
  to reject structural garbage the gates might miss); gate-passing records take the teacher's
  3-way label. Records the teacher could not label (status failed/budget) are left out and
  counted in ``data.summary`` — never silently dropped.
* ``5way`` (distill-5way ablation): no gating; every record takes the teacher's 5-way label.

Every example knows where its label came from (``origin``: ``gate`` or ``teacher``) so the
validation metrics can report agreement with the teacher separately.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from tgrd.student.settings import StudentDataConfig, class_names


@dataclass
class Examples:
    ids: list[str]
    messages: list[list[dict[str, Any]]]
    labels: np.ndarray  # (N,) int64 class indices into ``classes``
    origin: list[str]  # "gate" | "teacher"
    classes: tuple[str, ...]
    summary: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)


def _read(path: str | Path, columns: list[str]) -> dict[str, list]:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such file")
    table = pq.read_table(p)
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise ValueError(f"{p}: missing column(s) {missing} (have {table.column_names})")
    return table.select(columns).to_pydict()


def build_examples(
    gated_path: str | Path, labels_path: str | Path, cfg: StudentDataConfig
) -> Examples:
    """Join ``gated.parquet`` with ``labels.parquet`` on ``id`` into labelled examples.

    Raises:
        ValueError: a label outside the rubric's classes (naming the file and id), or no examples.
    """
    classes = class_names(cfg.labels)
    index = {c: i for i, c in enumerate(classes)}
    gated = _read(gated_path, ["id", "messages", "gate_pass", "gate_reason"])
    raw = _read(labels_path, ["id", "label"])
    teacher = {
        i: lab for i, lab in zip(raw["id"], raw["label"], strict=True) if lab not in (None, "")
    }
    ids, msgs, labels, origin = [], [], [], []
    counts: Counter[str] = Counter()
    gate_reasons: Counter[str] = Counter()
    for rid, m, passed, reason in zip(
        gated["id"], gated["messages"], gated["gate_pass"], gated["gate_reason"], strict=True
    ):
        if cfg.labels == "3way" and not passed:
            gate_reasons[reason] += 1
            if not cfg.include_gate_failures:
                counts["gate_fail_excluded"] += 1
                continue
            label, src = cfg.gate_fail_label, "gate"
        elif rid in teacher:
            label, src = teacher[rid], "teacher"
        else:
            counts["unlabelled"] += 1
            continue
        if label not in index:
            raise ValueError(
                f"{labels_path}: id {rid!r}: label {label!r} is not one of {list(classes)}"
            )
        ids.append(rid)
        msgs.append(m)
        labels.append(index[label])
        origin.append(src)
        counts[f"{src}:{label}"] += 1
    if not ids:
        raise ValueError(f"{gated_path} + {labels_path}: no labelled examples")
    summary = {
        "examples": len(ids),
        "by_origin_label": dict(sorted(counts.items())),
        "gate_fail_reasons": dict(sorted(gate_reasons.items())),
    }
    return Examples(ids, msgs, np.asarray(labels, dtype=np.int64), origin, classes, summary)


def class_weights(labels: np.ndarray, num_classes: int, mode: str = "balanced") -> list[float]:
    """Cross-entropy weights: ``N / (C * n_c)`` per class (absent classes get 0), or all ones."""
    if mode == "none":
        return [1.0] * num_classes
    counts = np.bincount(labels, minlength=num_classes).astype(float)
    present = counts > 0
    w = np.zeros(num_classes)
    w[present] = counts.sum() / (present.sum() * counts[present])
    return w.tolist()


def stratified_split(
    labels: np.ndarray, val_frac: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Per-class seeded split: round(val_frac * n_c) of each class (≥ 1 if n_c ≥ 2) to validation."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = int(round(val_frac * len(idx)))
        if val_frac > 0 and len(idx) >= 2:
            k = min(max(k, 1), len(idx) - 1)
        val.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def bucketed_batches(
    lengths: list[int] | np.ndarray,
    batch_size: int,
    seed: int,
    bucketing: bool = True,
    window: int = 32,
) -> list[list[int]]:
    """Shuffled batches of positions; with ``bucketing``, similar lengths share a batch.

    Positions are shuffled, cut into windows of ``window * batch_size``, sorted by length inside
    each window (so padding shrinks but batches still mix the data), batched, and the batch
    order is shuffled again. ``seed`` should change per epoch.
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(lengths))
    lengths = np.asarray(lengths)
    if bucketing:
        span = window * batch_size
        order = (
            np.concatenate(
                [
                    w[np.argsort(lengths[w], kind="stable")]
                    for w in np.array_split(order, max(1, -(-len(order) // span)))
                ]
            )
            if len(order)
            else order
        )
    batches = [order[i : i + batch_size].tolist() for i in range(0, len(order), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def shard_batches(batches: list[list[int]], rank: int, world_size: int) -> list[list[int]]:
    """This rank's batches: round-robin, cut to the same count on every rank (DDP steps in lockstep)."""
    per_rank = len(batches) // world_size if world_size > 1 else len(batches)
    return batches[rank::world_size][:per_rank]
