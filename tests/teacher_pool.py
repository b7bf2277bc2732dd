"""A tiny labeled pool for the teacher tests: finqa-like records with a planted category each."""

from __future__ import annotations

import json
from pathlib import Path

from tgrd.records import content_hash

CATEGORIES = ("clean", "incorrect", "off_task_chat", "empty", "repetition", "verbose_wrong")


def make_pool(n: int, seed: int = 0) -> tuple[list[dict], dict[str, str]]:
    """n canonical records and their truth map (content hash → category)."""
    records, truth = [], {}
    for i in range(n):
        a, b = 10 + (i * 7 + seed) % 90, 1 + (i * 3 + seed) % 9
        question = (
            f"Revenue was {a} and costs were {b} (item {i}, seed {seed}). What is the profit?"
        )
        cat = CATEGORIES[i % len(CATEGORIES)]
        answer = {
            "clean": f"Profit = {a} - {b} = {a - b}.",
            "incorrect": f"Profit = {a} - {b} = {a - b + 1}.",
            "off_task_chat": "Hi there! Nice weather today.",
            "empty": "   ",
            "repetition": " ".join(["profit is"] * 15),
            "verbose_wrong": " ".join(["Carefully considering every line of the statement,"] * 12)
            + f" {a + b}.",
        }[cat]
        msgs = [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
        records.append({"id": f"r{seed}-{i}", "task": "finqa", "messages": msgs, "meta": {}})
        truth[content_hash(msgs)] = cat
    return records, truth


def write_truth(truth: dict[str, str], path: Path) -> Path:
    path.write_text(
        "".join(json.dumps({"content_hash": k, "category": v}) + "\n" for k, v in truth.items())
    )
    return path


def write_pool(records: list[dict], path: Path) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path
