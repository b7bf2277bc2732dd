"""What a finished student leaves behind: adapter, ``training.json``, model card and curves.

    from tgrd.student.training_record import save_final, write_reports
    student_dir = save_final(fit_result, examples, cfg.student, "runs/x/distill/student")
    write_reports(student_dir, "runs/x/distill")    # metrics.json, curves.json, curves.png

``student/`` holds ``adapter/`` (peft ``save_pretrained``: LoRA weights + classifier head),
``tokenizer/``, ``student.json`` (config, classes, base seed and checksum), ``training.json``
(data summary, per-epoch validation metrics, loss curve) and ``README.md`` (the model card).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tgrd.student.settings import StudentConfig

TRAINING_FILE = "training.json"


def save_final(result, data, cfg: StudentConfig, student_dir: str | Path) -> Path:
    """Save the trained student (``result`` from :func:`tgrd.student.train.fit`) with its record."""
    from tgrd.student.model import save_student

    meta = dict(result.meta)
    meta["student"] = cfg.model_dump(mode="json")
    out = save_student(result.model, result.tokenizer, student_dir, meta)
    record = {"data": data.summary, "meta": meta, "history": result.history, "curve": result.curve}
    (out / TRAINING_FILE).write_text(json.dumps(record, indent=2))
    (out / "README.md").write_text(model_card(record))
    return out


def model_card(record: dict[str, Any]) -> str:
    """A short markdown model card: base, labels, data, LoRA, final validation metrics."""
    meta, student = record["meta"], record["meta"]["student"]
    classes = meta["classes"]
    last = record["history"][-1]["val"] if record["history"] else {}
    lines = [
        "# TGRD student (sequence classifier + LoRA)",
        "",
        f"- base: `{student['model']['path']}` (seed {meta['base_seed']}, checksum `{meta['base_checksum']}`)",
        f"- labels: {student['data']['labels']} → {', '.join(classes)}"
        + (
            f"; gate failures auto-labelled {student['data']['gate_fail_label']}"
            if student["data"]["labels"] == "3way" and student["data"]["include_gate_failures"]
            else ""
        ),
        f"- LoRA: r={student['lora']['r']}, alpha={student['lora']['alpha']}, "
        f"targets={student['lora']['target_modules']}; classifier head trained in full",
        f"- data: {record['data']['examples']} examples ({meta['train_examples']} train / "
        f"{meta['val_examples']} validation, stratified); by origin: {record['data']['by_origin_label']}",
        f"- class weights: {[round(w, 3) for w in meta['class_weights']]}",
        f"- optimizer steps: {meta['steps']}"
        + (
            f" (resumed from step {meta['resumed_from_step']})"
            if meta.get("resumed_from_step") is not None
            else ""
        ),
        "",
        "## Validation (last epoch)",
        "",
        f"loss {last.get('loss', float('nan')):.4f} · accuracy {last.get('accuracy', float('nan')):.4f} · "
        f"macro-F1 {last.get('macro_f1', float('nan')):.4f} · agreement with teacher "
        f"{last.get('agreement_with_teacher', float('nan')):.4f}",
        "",
        "Confusion matrix (rows: label, columns: prediction):",
        "",
        "| | " + " | ".join(classes) + " |",
        "|---" * (len(classes) + 1) + "|",
    ]
    for name, row in zip(classes, last.get("confusion", []), strict=False):
        lines.append(f"| {name} | " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def write_reports(student_dir: str | Path, out_dir: str | Path) -> dict[str, Any]:
    """``metrics.json`` (per-epoch metrics + data summary), ``curves.json`` and ``curves.png``."""
    record = json.loads((Path(student_dir) / TRAINING_FILE).read_text())
    out = Path(out_dir)
    metrics = {
        "data": record["data"],
        "meta": {k: v for k, v in record["meta"].items() if k != "student"},
        "epochs": record["history"],
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    (out / "curves.json").write_text(json.dumps(record["curve"]))
    _plot(record, out / "curves.png")
    return metrics


def _plot(record: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2))
    curve = record["curve"]
    a.plot([c["step"] for c in curve], [c["loss"] for c in curve], lw=1)
    a.set(xlabel="optimizer step", ylabel="train loss (weighted CE)", title="training")
    hist = record["history"]
    for key in ("accuracy", "macro_f1", "agreement_with_teacher"):
        b.plot([h["epoch"] for h in hist], [h["val"][key] for h in hist], marker="o", label=key)
    b.set(xlabel="epoch", title="validation")
    b.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
