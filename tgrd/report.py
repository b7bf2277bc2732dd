"""The run report: does each verifier's ranking of candidate datasets predict downstream results?

    tgrd report RUN_DIR          # writes RUN_DIR/report/report.md, metrics.json and PNG plots

:func:`write_report` takes plain data (:class:`ReportInputs`) so it can be driven by the pipeline
or by hand; :func:`collect_inputs` (tgrd/report_inputs.py) gathers it from a run directory.

What the report shows, and why:

- **Table 1** — the four verifiers (llm-only, tool+llm, tool+distilled, distill-5way) × tasks:
  Spearman ρ, Kendall τ, pairwise accuracy and top-1 regret between DVS and DBS, each with a
  bootstrap CI over candidates and an exact permutation p-value. With K = 8 these are fragile;
  the CIs make that visible.
- **Table 2** — the 3-way student with gates vs the 5-way student without (the ablation).
- **Fragility** — the seed spread of DBS beside the gaps between candidates: when the spread is
  as large as the gaps, no verifier can be told apart from chance on that task.
- **Cost** — teacher calls, tokens and $ per verifier, at labeling time and at inference.
- **Student vs teacher** — agreement and the breakdown of disagreements.
- **Gate coverage** — what the free gates catch, per reason.
- **Score-map calibration** — in-sample and held-out figures side by side with the paper's map.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tgrd import metrics

VERIFIERS = ("llm-only", "tool+llm", "tool+distilled", "distill-5way")


@dataclass
class ReportInputs:
    """Everything the report needs, as plain data.

    Attributes:
        dvs: verifier → task → candidate → Dataset Value Score.
        dbs: task → candidate → per-seed downstream scores (DBS is their mean).
        costs: verifier → {"label_calls", "label_tokens", "label_usd", "infer_calls",
            "infer_tokens", "infer_usd"} (missing keys read as 0).
        confusion: teacher-vs-student confusion {"labels": [...], "matrix": [[...]]} with rows =
            teacher label, columns = student label (validation split), or None.
        gate_counts: task → {"records": n, "failed_by_reason": {reason: n}}.
        curves: list of per-epoch dicts (``epoch``, ``train_loss``, ``val_loss``,
            ``val_accuracy``, ``val_macro_f1``) from student training, or empty.
        calibration: free-form dict from the score-map search (in-sample / held-out), or None.
        meta: run name, config name, anything shown in the header.
    """

    dvs: dict[str, dict[str, dict[str, float]]]
    dbs: dict[str, dict[str, list[float]]]
    costs: dict[str, dict[str, float]] = field(default_factory=dict)
    confusion: dict[str, Any] | None = None
    gate_counts: dict[str, dict[str, Any]] = field(default_factory=dict)
    curves: list[dict[str, float]] = field(default_factory=list)
    calibration: dict[str, Any] | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def _std(xs: list[float]) -> float:
    if len(xs) < 2:
        return 0.0
    m = _mean(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def verifier_table(inputs: ReportInputs, n_resamples: int = 2000) -> dict[str, dict[str, Any]]:
    """verifier → task → ranking_report (plus "average" ρ over tasks)."""
    table: dict[str, dict[str, Any]] = {}
    for verifier, per_task in inputs.dvs.items():
        row: dict[str, Any] = {}
        for task, dvs in per_task.items():
            if task not in inputs.dbs:
                continue
            cands = sorted(set(dvs) & set(inputs.dbs[task]))
            if len(cands) < 2:
                continue
            x = [dvs[c] for c in cands]
            y = [_mean(inputs.dbs[task][c]) for c in cands]
            if len(set(y)) < 2:  # every candidate trained equally well: nothing to rank against
                row[task] = {"k": len(cands), "constant_dbs": True}
                continue
            if len(set(x)) < 2:
                row[task] = {"k": len(cands), "constant_dvs": True}
                continue
            row[task] = metrics.ranking_report(x, y, n_resamples=n_resamples)
        rhos = [r["spearman"] for r in row.values() if r.get("spearman") is not None]
        row["average_spearman"] = _mean(rhos) if rhos else None
        table[verifier] = row
    return table


def fragility(inputs: ReportInputs) -> dict[str, dict[str, float]]:
    """Per task: mean seed std of DBS against the gaps between adjacent candidates."""
    out = {}
    for task, per_cand in inputs.dbs.items():
        means = sorted(_mean(v) for v in per_cand.values())
        gaps = [b - a for a, b in zip(means, means[1:])]
        seed_std = _mean([_std(v) for v in per_cand.values()])
        out[task] = {
            "mean_seed_std": seed_std,
            "dbs_range": means[-1] - means[0] if means else 0.0,
            "median_adjacent_gap": sorted(gaps)[len(gaps) // 2] if gaps else 0.0,
            "seeds": max(len(v) for v in per_cand.values()),
        }
    return out


def agreement(confusion: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Agreement rate and disagreements ranked by share (teacher label → student label)."""
    if not confusion:
        return None
    labels, matrix = confusion["labels"], confusion["matrix"]
    total = sum(map(sum, matrix))
    agree = sum(matrix[i][i] for i in range(len(labels)))
    disagree = total - agree
    pairs = [
        {
            "teacher": labels[i],
            "student": labels[j],
            "count": matrix[i][j],
            "share_of_disagreements": matrix[i][j] / disagree if disagree else 0.0,
        }
        for i in range(len(labels))
        for j in range(len(labels))
        if i != j and matrix[i][j]
    ]
    pairs.sort(key=lambda p: -p["count"])
    return {"total": total, "agreement": agree / total if total else None, "disagreements": pairs}


def _fmt(x: Any, digits: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def _ci(rep: Mapping[str, Any], key: str) -> str:
    lo, hi = rep.get(f"{key}_ci95") or (None, None)
    if lo is None:
        return _fmt(rep.get(key))
    return f"{_fmt(rep.get(key))} [{_fmt(lo, 2)}, {_fmt(hi, 2)}]"


def _table1_markdown(
    table: dict[str, dict[str, Any]], tasks: list[str], verifiers: list[str]
) -> list[str]:
    lines = [
        "| verifier | task | ρ [95% CI] | τ [95% CI] | pairwise acc. | top-1 regret | p(ρ) one-sided (strict) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for v in verifiers:
        for t in tasks:
            rep = table.get(v, {}).get(t)
            if rep is None:
                lines.append(f"| {v} | {t} | not run | | | | |")
            elif rep.get("constant_dbs"):
                lines.append(f"| {v} | {t} | constant DBS: no ground-truth ranking | | | | |")
            elif rep.get("constant_dvs"):
                lines.append(f"| {v} | {t} | constant DVS: no ranking | | | | |")
            else:
                p = f"{_fmt(rep.get('spearman_p_one_sided'))} ({_fmt(rep.get('spearman_p_one_sided_strict'))})"
                lines.append(
                    f"| {v} | {t} | {_ci(rep, 'spearman')} | {_ci(rep, 'kendall')} | "
                    f"{_ci(rep, 'pairwise_accuracy')} | {_ci(rep, 'top1_regret')} | {p} |"
                )
        if v in table:
            lines.append(
                f"| {v} | **average ρ** | {_fmt(table[v].get('average_spearman'))} | | | | |"
            )
    return lines


def _plots(inputs: ReportInputs, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    verifiers = [v for v in VERIFIERS if v in inputs.dvs] + [
        v for v in inputs.dvs if v not in VERIFIERS
    ]
    for task, per_cand in inputs.dbs.items():
        fig, axes = plt.subplots(
            1, len(verifiers), figsize=(4 * len(verifiers), 3.6), squeeze=False
        )
        for ax, v in zip(axes[0], verifiers):
            dvs = inputs.dvs[v].get(task, {})
            cands = sorted(set(dvs) & set(per_cand))
            x = [dvs[c] for c in cands]
            y = [_mean(per_cand[c]) for c in cands]
            err = [_std(per_cand[c]) for c in cands]
            ax.errorbar(x, y, yerr=err, fmt="o", capsize=3)
            for c, xi, yi in zip(cands, x, y):
                ax.annotate(
                    c.replace("cand_", ""),
                    (xi, yi),
                    fontsize=7,
                    xytext=(3, 3),
                    textcoords="offset points",
                )
            rho = metrics.spearman(x, y) if len(set(x)) > 1 and len(x) > 1 else float("nan")
            ax.set_title(f"{v}  ρ={rho:.2f}")
            ax.set_xlabel("DVS")
            ax.set_ylabel("DBS (mean ± seed std)")
        fig.suptitle(f"task {task}: verifier score vs downstream benchmark score")
        fig.tight_layout()
        name = f"dvs_vs_dbs_{task}.png"
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        files.append(name)
    if inputs.confusion:
        labels, m = inputs.confusion["labels"], inputs.confusion["matrix"]
        fig, ax = plt.subplots(figsize=(4.5, 4))
        ax.imshow(m, cmap="Blues")
        ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
        ax.set_yticks(range(len(labels)), labels, fontsize=8)
        for i, row in enumerate(m):
            for j, v in enumerate(row):
                ax.text(j, i, str(v), ha="center", va="center", fontsize=8)
        ax.set_xlabel("student")
        ax.set_ylabel("teacher")
        ax.set_title("teacher vs student (validation)")
        fig.tight_layout()
        fig.savefig(out / "confusion.png", dpi=110)
        plt.close(fig)
        files.append("confusion.png")
    if inputs.curves:
        fig, ax = plt.subplots(1, 2, figsize=(8, 3.2))
        epochs = [c["epoch"] for c in inputs.curves]
        for key in ("train_loss", "val_loss"):
            if all(key in c for c in inputs.curves):
                ax[0].plot(epochs, [c[key] for c in inputs.curves], marker="o", label=key)
        for key in ("val_accuracy", "val_macro_f1"):
            if all(key in c for c in inputs.curves):
                ax[1].plot(epochs, [c[key] for c in inputs.curves], marker="o", label=key)
        for a in ax:
            a.set_xlabel("epoch")
            a.legend(fontsize=8)
        ax[0].set_title("student loss")
        ax[1].set_title("student validation")
        fig.tight_layout()
        fig.savefig(out / "training_curves.png", dpi=110)
        plt.close(fig)
        files.append("training_curves.png")
    return files


def write_report(
    inputs: ReportInputs, out_dir: str | Path, n_resamples: int = 2000
) -> dict[str, Any]:
    """Write report.md, metrics.json and the PNG plots into ``out_dir``; returns the metrics."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tasks = sorted(inputs.dbs)
    verifiers = [v for v in VERIFIERS if v in inputs.dvs] + [
        v for v in inputs.dvs if v not in VERIFIERS
    ]
    table = verifier_table(inputs, n_resamples)
    frag = fragility(inputs)
    agree = agreement(inputs.confusion)
    plots = _plots(inputs, out)
    result = {
        "table1": table,
        "fragility": frag,
        "costs": inputs.costs,
        "agreement": agree,
        "gate_counts": inputs.gate_counts,
        "calibration": inputs.calibration,
        "meta": inputs.meta,
        "plots": plots,
    }
    (out / "metrics.json").write_text(json.dumps(result, indent=2, default=str))

    md = [f"# tgrd report — {inputs.meta.get('run', 'run')}", ""]
    if inputs.meta:
        md += [f"- {k}: {v}" for k, v in inputs.meta.items()] + [""]
    md += [
        "## Table 1 — verifiers: does DVS rank candidates like the downstream benchmark (DBS)?",
        "",
        f"K = {max((len(v) for v in inputs.dbs.values()), default=0)} candidates per task. CIs: "
        "percentile bootstrap over candidates; p: exact permutation test over all K! "
        "reassignments (ties with the observed ρ counted; strictly larger only in parentheses).",
        "",
    ]
    md += _table1_markdown(table, tasks, verifiers)
    md += [
        "",
        "## Table 2 — ablation: 3-way student behind gates vs 5-way student without gates",
        "",
        "| student | " + " | ".join(f"ρ {t}" for t in tasks) + " | average ρ |",
        "| --- | " + " | ".join("---" for _ in tasks) + " | --- |",
    ]
    for v in ("tool+distilled", "distill-5way"):
        if v in table:
            md.append(
                f"| {v} | "
                + " | ".join(_fmt(table[v].get(t, {}).get("spearman")) for t in tasks)
                + f" | {_fmt(table[v].get('average_spearman'))} |"
            )
    md += [
        "",
        "## Fragility — seed spread against the gaps between candidates",
        "",
        "| task | seeds | mean seed std of DBS | median gap between adjacent candidates | DBS range |",
        "| --- | --- | --- | --- | --- |",
    ]
    for t, f in frag.items():
        md.append(
            f"| {t} | {f['seeds']} | {_fmt(f['mean_seed_std'])} | {_fmt(f['median_adjacent_gap'])} | "
            f"{_fmt(f['dbs_range'])} |"
        )
    noisy = [t for t, f in frag.items() if f["mean_seed_std"] >= f["median_adjacent_gap"]]
    if noisy:
        md += [
            "",
            f"Warning: on {', '.join(noisy)} the seed spread is at least the typical gap between "
            "candidates, so adjacent candidates are not reliably ordered by DBS itself.",
        ]
    md += [
        "",
        "## Cost — teacher usage per verifier",
        "",
        "| verifier | labeling calls | labeling tokens | labeling $ | inference calls | inference tokens | inference $ |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for v in verifiers:
        c = inputs.costs.get(v, {})
        md.append(
            f"| {v} | "
            + " | ".join(
                _fmt(c.get(k, 0), 4) if "usd" in k else _fmt(int(c.get(k, 0)))
                for k in (
                    "label_calls",
                    "label_tokens",
                    "label_usd",
                    "infer_calls",
                    "infer_tokens",
                    "infer_usd",
                )
            )
            + " |"
        )
    if agree:
        md += [
            "",
            "## Student vs teacher",
            "",
            f"Agreement on the validation split: {_fmt(agree['agreement'])} of {agree['total']} instances.",
            "",
            "| teacher | student | count | share of disagreements |",
            "| --- | --- | --- | --- |",
        ]
        md += [
            f"| {p['teacher']} | {p['student']} | {p['count']} | {_fmt(p['share_of_disagreements'])} |"
            for p in agree["disagreements"]
        ]
    if inputs.gate_counts:
        md += [
            "",
            "## Gate coverage",
            "",
            "| task | records | caught by gates | by reason |",
            "| --- | --- | --- | --- |",
        ]
        for t, g in inputs.gate_counts.items():
            failed = sum(g.get("failed_by_reason", {}).values())
            reasons = ", ".join(
                f"{r}: {n}" for r, n in sorted(g.get("failed_by_reason", {}).items())
            )
            md.append(
                f"| {t} | {g.get('records', 0)} | {failed} ({failed / max(g.get('records', 1), 1):.1%}) | {reasons} |"
            )
    if inputs.calibration:
        md += [
            "",
            "## Score-map calibration (mean ρ over tasks; quote the held-out columns)",
            "",
            "| verifier | paper map (fixed) | searched, in-sample | leave-one-task-out | leave-one-candidate-out | in-sample map |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for v, r in inputs.calibration.items():
            cells = [
                _fmt((r.get(k) or {}).get("mean"))
                for k in ("baseline", "in_sample", "leave_one_task_out", "leave_one_candidate_out")
            ]
            fitted = (r.get("in_sample") or {}).get("map") or {}
            md.append(
                f"| {v} | "
                + " | ".join(cells)
                + " | "
                + ", ".join(f"{c} {x:.2f}" for c, x in fitted.items())
                + " |"
            )
    md += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    (out / "report.md").write_text("\n".join(md) + "\n")
    return result
