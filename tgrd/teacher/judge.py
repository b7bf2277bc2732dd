"""The local teacher's verdicts: truth lookup for synthetic instances, heuristics for the rest.

    judge = LocalJudge(truth=load_truth("runs/synth/truth.parquet"), noise=0.1, long_answer_bias=0.3)
    label, rationale = judge.verdict(instance_messages, classes=("PASS", "INCORRECT", ...))

The synthetic benchmark writes each instance's planted category to a truth file keyed by the
content hash of its messages (``tgrd.records.content_hash``). Instances not in the truth file get
deterministic checks: empty → EMPTY_OR_TRUNCATED, repetitive → DEGENERATE, Python that does not
parse → INCORRECT, otherwise PASS. Noise and the long-answer bias (a rubric judge rewarding
surface quality, the paper's hypothesis) are drawn from a generator seeded by the instance hash,
so one instance always gets the same verdict.
"""

from __future__ import annotations

import ast
import json
import random
import re
import zlib
from pathlib import Path

from tgrd.records import content_hash

# Planted category (synthetic benchmark) → rubric class. Structural classes fall back to
# INCORRECT under a rubric that lacks them (the 3-way one).
CATEGORY_TO_CLASS = {
    "clean": "PASS",
    "terse": "PASS",
    "pass": "PASS",
    "correct": "PASS",
    "incorrect": "INCORRECT",
    "wrong": "INCORRECT",
    "verbose_wrong": "INCORRECT",
    "verbose_incorrect": "INCORRECT",
    "off_task": "TASK_MISMATCH",
    "offtask": "TASK_MISMATCH",
    "off_task_other": "TASK_MISMATCH",
    "off_task_chat": "TASK_MISMATCH",
    "task_mismatch": "TASK_MISMATCH",
    "mismatch": "TASK_MISMATCH",
    "empty": "EMPTY_OR_TRUNCATED",
    "truncated": "EMPTY_OR_TRUNCATED",
    "empty_or_truncated": "EMPTY_OR_TRUNCATED",
    "repetitive": "DEGENERATE",
    "repetition": "DEGENERATE",
    "degenerate": "DEGENERATE",
    "garbage": "DEGENERATE",
    "malformed": "DEGENERATE",
}


def load_truth(path: str | Path) -> dict[str, str]:
    """content hash → category or class from JSONL or Parquet.

    Columns: ``content_hash`` (or ``hash``/``instance_hash``) and ``rubric_class`` (preferred
    when the file carries it) or ``category``/``label``.
    """
    path = Path(path)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        rows = pq.read_table(path).to_pylist()
    else:
        rows = [
            json.loads(line)
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
    truth = {}
    for i, row in enumerate(rows):
        key = row.get("content_hash") or row.get("hash") or row.get("instance_hash")
        cat = row.get("rubric_class") or row.get("category") or row.get("label")
        if key is None or cat is None:
            raise ValueError(
                f"{path}: row {i + 1} needs content_hash and category, got keys {sorted(row)}"
            )
        truth[str(key)] = str(cat)
    return truth


def is_repetitive(text: str, min_words: int = 20, max_unique_frac: float = 0.3) -> bool:
    words = text.split()
    return len(words) >= min_words and len(set(words)) / len(words) < max_unique_frac


def _python_parses(text: str) -> bool:
    fence = re.search(r"```(?:python)?\n(.*?)```", text, re.S)
    try:
        ast.parse(fence.group(1) if fence else text)
    except SyntaxError:
        return False
    return True


class LocalJudge:
    def __init__(self, truth: dict[str, str] | None = None, noise: float = 0.0,
                 long_answer_bias: float = 0.0, long_answer_words: int = 60, seed: int = 0):  # fmt: skip
        self.truth = truth or {}
        self.noise = noise
        self.long_answer_bias = long_answer_bias
        self.long_answer_words = long_answer_words
        self.seed = seed

    def true_class(
        self, messages: list[dict[str, str]], classes: tuple[str, ...]
    ) -> tuple[str, str]:
        """(class, why) before noise and bias."""
        answer = messages[-1]["content"] if messages and messages[-1]["role"] == "assistant" else ""
        category = self.truth.get(content_hash(messages))
        if category is not None:
            cls = CATEGORY_TO_CLASS.get(category.lower(), category.upper())
            why = f"planted category {category}"
        elif not answer.strip():
            cls, why = "EMPTY_OR_TRUNCATED", "the response is empty"
        elif is_repetitive(answer):
            cls, why = "DEGENERATE", "the response repeats itself"
        elif "def " in answer and not _python_parses(answer):
            cls, why = "INCORRECT", "the code does not parse"
        else:
            cls, why = "PASS", "no defect found"
        if cls not in classes:
            cls = "INCORRECT" if "INCORRECT" in classes else classes[0]
        return cls, why

    def verdict(self, messages: list[dict[str, str]], classes: tuple[str, ...]) -> tuple[str, str]:
        """The teacher's (label, rationale), deterministic per instance."""
        cls, why = self.true_class(messages, classes)
        rng = random.Random(zlib.crc32(f"{self.seed}:{content_hash(messages)}".encode()))
        answer = messages[-1]["content"] if messages else ""
        if (
            cls == "INCORRECT"
            and len(answer.split()) >= self.long_answer_words
            and "PASS" in classes
        ):
            if rng.random() < self.long_answer_bias:
                return "PASS", "a thorough, well-explained answer"
        if rng.random() < self.noise:
            others = [c for c in classes if c != cls]
            return rng.choice(others), "judged on a quick reading"
        return cls, why


def count_tokens(text: str) -> int:
    """Rough BPE-like count: words, numbers and punctuation runs (≈ tiktoken on English)."""
    return len(re.findall(r"\w+|[^\w\s]", text))
