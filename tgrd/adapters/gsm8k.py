"""GSM8K (Cobbe et al. 2021) → canonical records, QA benchmark items, labelled model solutions.

    from tgrd.adapters.gsm8k import gsm8k_records, gsm8k_benchmark, gsm8k_model_solution_records
    recs = gsm8k_records("../shared/data/gsm8k/train.jsonl")           # user question → solution
    items = gsm8k_benchmark("../shared/data/gsm8k/test.jsonl")         # {id, question, answer, ...}
    sols = gsm8k_model_solution_records("../shared/data/gsm8k/example_model_solutions.jsonl")

The model-solution file holds, per test question, four GPT-3 solutions (6B/175B × finetuning/
verification) with OpenAI's ``is_correct`` flag: 5,276 real noisy responses whose correctness is
known — a ready-made candidate dataset. The flag goes to ``meta`` (these are real data; there is
no planted category to hide).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tgrd.adapters.io import read_jsonl, require
from tgrd.qaeval import parse_number

MODEL_KEYS = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")


def reference_answer(solution: str, where: str) -> float:
    """The number after ``####`` in a GSM8K reference solution."""
    if "####" not in solution:
        raise ValueError(f"{where}: reference answer has no '#### N' line")
    parsed = parse_number(solution.rsplit("####", 1)[1])
    if parsed is None:
        raise ValueError(f"{where}: no number after '####'")
    return parsed.value


def gsm8k_records(path: str | Path, split: str | None = None) -> list[dict[str, Any]]:
    """Question → reference solution records (task ``gsm8k``), ids ``gsm8k-<split>-<line>``."""
    split = split or Path(path).stem
    out = []
    for i, row in enumerate(read_jsonl(path)):
        where = f"{path}:{i + 1}"
        require(row, ("question", "answer"), where)
        out.append(
            {
                "id": f"gsm8k-{split}-{i}",
                "messages": [
                    {"role": "user", "content": row["question"]},
                    {"role": "assistant", "content": row["answer"]},
                ],
                "task": "gsm8k",
                "meta": {
                    "source": "gsm8k",
                    "split": split,
                    "final_answer": reference_answer(row["answer"], where),
                },
            }
        )
    return out


def gsm8k_benchmark(
    path: str | Path, abs_tol: float = 1e-6, rel_tol: float = 0.0
) -> list[dict[str, Any]]:
    """QA benchmark items in the finqa format: {id, question, messages, answer, tolerance}."""
    items = []
    for rec in gsm8k_records(path):
        items.append(
            {
                "id": rec["id"],
                "question": rec["messages"][0]["content"],
                "messages": rec["messages"][:1],
                "answer": rec["meta"]["final_answer"],
                "tolerance": {"abs": abs_tol, "rel": rel_tol},
            }
        )
    return items


def gsm8k_model_solution_records(path: str | Path) -> list[dict[str, Any]]:
    """One record per (question, model): the model's solution, ``meta.is_correct`` and ``meta.model``."""
    out = []
    for i, row in enumerate(read_jsonl(path)):
        where = f"{path}:{i + 1}"
        require(row, ("question", "ground_truth", *MODEL_KEYS), where)
        gold = parse_number(row["ground_truth"].rsplit("A:", 1)[-1])
        for model in MODEL_KEYS:
            sol = row[model]
            require(sol, ("solution", "is_correct"), f"{where}: {model}")
            out.append(
                {
                    "id": f"gsm8k-solutions-{i}-{model}",
                    "messages": [
                        {"role": "user", "content": row["question"]},
                        {"role": "assistant", "content": sol["solution"]},
                    ],
                    "task": "gsm8k",
                    "meta": {
                        "source": "gsm8k/example_model_solutions",
                        "model": model,
                        "is_correct": bool(sol["is_correct"]),
                        "question_index": i,
                        "final_answer": None if gold is None else gold.value,
                    },
                }
            )
    return out
