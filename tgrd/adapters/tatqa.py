"""TAT-QA (Zhu et al. 2021: table + paragraphs + question) → chat records and QA benchmark items.

    from tgrd.adapters.tatqa import tatqa_examples
    records, items = tatqa_examples("../shared/data/tatqa/tatqa_dataset_dev.json")
    arithmetic = [it for it in items if it["answer_type"] == "arithmetic"]

The context (the table as a pipe table, then the paragraphs in order) and the question form the
user turn. The assistant turn is the gold answer: for arithmetic, the derivation, its value and
scale and a ``#### N`` line that tgrd.qaeval extracts; for spans, the span text. Items carry
``answer`` (number, or a list of spans), ``scale`` (thousand / million / billion / percent / "")
and a tolerance of 0.01 absolute, since TAT-QA rounds arithmetic answers to two decimals.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tgrd.adapters.io import require

NUMERIC_TYPES = ("arithmetic", "count")


def render_context(context: dict[str, Any]) -> str:
    """The table (pipe-separated rows) followed by the paragraphs sorted by ``order``."""
    rows = context["table"]["table"]
    lines = ["| " + " | ".join(str(c).strip() for c in row) + " |" for row in rows]
    paragraphs = sorted(context.get("paragraphs", []), key=lambda p: p.get("order", 0))
    return "\n".join(lines) + "\n\n" + "\n".join(p["text"].strip() for p in paragraphs)


def _answer_text(q: dict[str, Any]) -> str:
    ans, scale = q["answer"], q.get("scale") or ""
    if q["answer_type"] in NUMERIC_TYPES:
        unit = "%" if scale == "percent" else (f" {scale}" if scale else "")
        derivation = (q.get("derivation") or "").strip()
        head = f"{derivation} = {ans}{unit}" if derivation else f"{ans}{unit}"
        return f"{head}\n#### {ans}"
    spans = ans if isinstance(ans, list) else [ans]
    return ", ".join(str(s) for s in spans)


def tatqa_examples(
    path: str | Path, abs_tol: float = 0.01
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(chat records, benchmark items) for every question of a TAT-QA json file."""
    path = Path(path)
    try:
        contexts = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: invalid JSON: {exc}") from None
    if not isinstance(contexts, list):
        raise ValueError(f"{path}: expected a list of contexts")
    records, items = [], []
    for ci, ctx in enumerate(contexts):
        where = f"{path}: context {ci}"
        require(ctx, ("table", "paragraphs", "questions"), where)
        context_text = render_context(ctx)
        for qi, q in enumerate(ctx["questions"]):
            require(q, ("uid", "question", "answer", "answer_type"), f"{where} question {qi}")
            user = f"{context_text}\n\nQuestion: {q['question']}"
            rid = f"tatqa-{q['uid']}"
            meta = {
                "source": "tatqa",
                "answer_type": q["answer_type"],
                "scale": q.get("scale") or "",
                "answer_from": q.get("answer_from"),
            }
            records.append(
                {
                    "id": rid,
                    "task": "finqa",
                    "meta": meta,
                    "messages": [
                        {"role": "user", "content": user},
                        {"role": "assistant", "content": _answer_text(q)},
                    ],
                }
            )
            numeric = q["answer_type"] in NUMERIC_TYPES
            answer = q["answer"] if numeric or isinstance(q["answer"], list) else [q["answer"]]
            items.append(
                {
                    "id": rid,
                    "question": user,
                    "messages": [{"role": "user", "content": user}],
                    "answer": answer,
                    "scale": q.get("scale") or "",
                    "answer_type": q["answer_type"],
                    "tolerance": {"abs": abs_tol if numeric else 0.0, "rel": 0.0},
                }
            )
    return records, items
