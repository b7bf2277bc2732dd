"""Teacher-based verifiers (the paper's baselines): a Dataset Value Score per candidate.

    scores = run_verifier({"cand0": records0, "cand1": records1}, "tool+llm", cfg, m=128)
    scores["cand0"]["dvs"]

``llm-only``: the 5-way rubric on all m sampled instances (no gates). ``tool+llm``: the
deterministic gates first (a failure scores ``teacher.gate_fail_score``), the 3-way rubric on
the gate-passing rest. Classes map to scalars with ``teacher.score_map`` (default: the rubric
file's scores); DVS(D) = mean score over the instances that received a verdict. Instances the
teacher failed to label are excluded and counted, never given a default class.
"""

from __future__ import annotations

import random
import zlib
from typing import Any

VERIFIERS = ("llm-only", "tool+llm")


def sample_instances(
    records: list[dict[str, Any]], m: int, name: str, seed: int
) -> list[dict[str, Any]]:
    """m records drawn without replacement, reproducibly (crc32 seed, not the salted hash())."""
    if m >= len(records):
        return list(records)
    rng = random.Random(zlib.crc32(f"{seed}:{name}".encode()))
    return rng.sample(records, m)


def dataset_value_score(
    rows: list[dict[str, Any]], score_map: dict[str, float], gate_fail_score: float
) -> dict[str, Any]:
    """DVS from label rows (``status``, ``label``) as written by the labeling stage."""
    scores, failed, classes = [], 0, {}
    for row in rows:
        if row["status"] == "gate_fail":
            scores.append(gate_fail_score)
            classes["GATE_FAIL"] = classes.get("GATE_FAIL", 0) + 1
        elif row["label"] is not None:
            if row["label"] not in score_map:
                raise ValueError(
                    f"score map has no entry for class {row['label']!r}: {sorted(score_map)}"
                )
            scores.append(score_map[row["label"]])
            classes[row["label"]] = classes.get(row["label"], 0) + 1
        else:
            failed += 1
    dvs = sum(scores) / len(scores) if scores else float("nan")
    return {
        "dvs": dvs,
        "m": len(rows),
        "scored": len(scores),
        "unlabeled": failed,
        "class_counts": dict(sorted(classes.items())),
    }


def run_verifier(candidates: dict[str, list[dict[str, Any]]], verifier: str, cfg: Any, m: int = 128,
                 seed: int = 0) -> dict[str, dict[str, Any]]:  # fmt: skip
    """DVS of each candidate under a teacher-based verifier.

    Args:
        candidates: name → canonical records.
        verifier: ``llm-only`` or ``tool+llm``.
        cfg: the full :class:`tgrd.config.Config` (its ``gates`` and ``teacher`` sections).
        m: instances sampled per candidate (paper: 128).
    """
    from tgrd.teacher.rubric import load_rubric
    from tgrd.teacher.stage import label_records

    if verifier not in VERIFIERS:
        raise ValueError(f"unknown verifier {verifier!r}; expected one of {VERIFIERS}")
    teacher = cfg.teacher.model_copy(
        update={"rubric": "5way" if verifier == "llm-only" else "3way"}
    )
    rubric = load_rubric(teacher.rubric)
    score_map = teacher.score_map or rubric.scores
    samples = {name: sample_instances(recs, m, name, seed) for name, recs in candidates.items()}
    flat: list[dict[str, Any]] = []
    for name, recs in samples.items():
        for rec in recs:
            rec = {
                "id": f"{name}/{rec['id']}",
                "messages": rec["messages"],
                "task": rec.get("task"),
            }
            if verifier == "tool+llm":
                from tgrd.gates import PASS, gate_record

                reason = gate_record(rec["messages"], cfg.gates)
                rec["gate_pass"], rec["gate_reason"] = reason == PASS, reason or None
            flat.append(rec)
    rows, summary = label_records(flat, teacher, progress=False)
    out = {}
    for name in samples:
        mine = [r for r in rows if r["id"].startswith(f"{name}/")]
        out[name] = dataset_value_score(mine, score_map, teacher.gate_fail_score)
        out[name]["teacher_tokens"] = sum(
            r["prompt_tokens"] + r["completion_tokens"] for r in mine if not r["cached"]
        )
    out["_summary"] = summary
    return out
