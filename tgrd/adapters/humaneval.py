"""HumanEval and MBPP (CodeT's HumanEval-format copy) → benchmark problems and chat records.

    from tgrd.adapters.humaneval import load_problems, problem_records
    problems = load_problems("../shared/data/humaneval/HumanEval.jsonl.gz")     # 164
    mbpp = load_problems("../shared/data/mbpp_codet/mbpp_sanitized_for_code_generation.jsonl")
    records = problem_records(problems, task="code")  # user: prompt, assistant: canonical body

Problems keep the HumanEval fields (``task_id``, ``prompt``, ``entry_point``, ``test``,
``canonical_solution``) that the sandboxed evaluator (tgrd/codeeval) runs, plus ``messages``
so a chat model is prompted as in training, exactly like the synthetic code benchmark.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tgrd.adapters.io import read_jsonl, require

PROBLEM_KEYS = ("task_id", "prompt", "entry_point", "test")


def load_problems(path: str | Path) -> list[dict[str, Any]]:
    """HumanEval-format problems from ``.jsonl`` or ``.jsonl.gz``; ``canonical_solution`` kept."""
    out = []
    for i, row in enumerate(read_jsonl(path)):
        require(row, PROBLEM_KEYS, f"{path}:{i + 1}")
        problem = {k: row[k] for k in PROBLEM_KEYS}
        problem["canonical_solution"] = row.get("canonical_solution") or ""
        problem["messages"] = [{"role": "user", "content": row["prompt"]}]
        out.append(problem)
    return out


def problem_records(problems: list[dict[str, Any]], task: str = "code") -> list[dict[str, Any]]:
    """Chat records prompt → canonical solution.

    Raises:
        ValueError: a problem has no canonical solution (CodeContests prompts have none; an
            empty answer would be a defect, not data), naming its task_id.
    """
    out = []
    for p in problems:
        if not p["canonical_solution"].strip():
            raise ValueError(f"{p['task_id']}: no canonical_solution to make a record from")
        out.append(
            {
                "id": p["task_id"],
                "messages": [
                    {"role": "user", "content": p["prompt"]},
                    {"role": "assistant", "content": p["canonical_solution"]},
                ],
                "task": task,
                "meta": {"source": p["task_id"].split("/")[0], "entry_point": p["entry_point"]},
            }
        )
    return out
