"""Validation metrics of the student: loss, accuracy, macro-F1, confusion matrix, teacher agreement.

    from tgrd.student.evaluate import classification_metrics, evaluate
    classification_metrics(y_true, y_pred, num_classes)   # pure numpy
    evaluate(model, ids, labels, teacher_mask, weights, pad_id, 32, "cpu", None)

``evaluate`` runs on each rank's share of the validation split and sums the confusion matrices
and loss over ranks (``torch.distributed.all_reduce``) so every rank reports the same figures.
Agreement with the teacher is accuracy restricted to teacher-labelled examples (gate failures'
automatic labels excluded).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tgrd.student.model import collate


def classification_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, num_classes: int
) -> dict[str, Any]:
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


def _all_reduce(array: np.ndarray) -> np.ndarray:
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return array
    t = torch.tensor(array, dtype=torch.float64)
    dist.all_reduce(t)
    return t.numpy()


def evaluate(
    model,
    ids: list[list[int]],
    labels: np.ndarray,
    teacher_mask: np.ndarray,
    weights,
    pad_id: int,
    batch_size: int,
    device,
    amp_dtype,
    reduce: bool = True,
) -> dict[str, Any]:
    """Validation metrics over this rank's share; counts are summed across ranks when ``reduce``."""
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
            with torch.autocast(
                device_type=torch.device(device).type,
                dtype=amp_dtype,
                enabled=amp_dtype is not None,
            ):
                logits = model(
                    input_ids=x.to(device), attention_mask=mask.to(device)
                ).logits.float()
            loss_sum += [
                torch.nn.functional.cross_entropy(logits, y, weight=w, reduction="sum").item(),
                w[y].sum().item(),
            ]
            pred = logits.argmax(-1).cpu().numpy()
            np.add.at(cm, (labels[sel], pred), 1)
            t = teacher_mask[sel]
            np.add.at(cm_teacher, (labels[sel][t], pred[t]), 1)
    model.train()
    if reduce:
        cm, cm_teacher, loss_sum = _all_reduce(cm), _all_reduce(cm_teacher), _all_reduce(loss_sum)
    out = metrics_from_confusion(cm.astype(np.int64))
    out["loss"] = float(loss_sum[0] / loss_sum[1]) if loss_sum[1] else float("nan")
    out["agreement_with_teacher"] = metrics_from_confusion(cm_teacher.astype(np.int64))["accuracy"]
    out["n"] = int(cm.sum())
    return out
