"""The local teacher's verdicts: truth lookup, checking with an answer key, heuristics.

    judge = LocalJudge(truth=load_truth("runs/synth/truth.parquet"), noise=0.1, long_answer_bias=0.3,
                       answer_key=load_answer_key("runs/synth/answer_key.jsonl"))
    label, rationale = judge.verdict(instance_messages, classes=("PASS", "INCORRECT", ...))

Three sources of a verdict, in order:

1. a truth file: content hash of the messages (``tgrd.records.content_hash``) → planted category,
   or the synthetic benchmark's own ``truth.parquet`` (id, file, line, label5), whose referenced
   files are read to compute the hashes;
2. checking, with the benchmark's ``answer_key.jsonl`` (prompt → grading): finqa answers are
   graded with tgrd.qaeval; code runs its hidden tests in the tgrd.codeeval sandbox (the server
   does that off its event loop, see :meth:`LocalJudge.program_to_run`);
3. deterministic heuristics for anything else: empty → EMPTY_OR_TRUNCATED, repetitive →
   DEGENERATE, Python that does not parse → INCORRECT, otherwise PASS.

Noise and the long-answer bias (a rubric judge rewarding surface quality, the paper's
hypothesis) are drawn from a generator seeded by the instance hash, so one instance always gets
the same verdict.
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
# INCORRECT under a rubric that lacks them (the 3-way one), as tgrd.synth.recipes.LABEL3 does.
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
    """content hash → category or class, from JSONL or Parquet.

    Columns: ``content_hash`` (or ``hash``/``instance_hash``) and ``rubric_class``,
    ``category`` or ``label``; or the tgrd.synth layout (``file``, ``line``, ``label5``).
    """
    path = Path(path)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        rows = pq.read_table(path).to_pylist()
    else:
        text = path.read_text(encoding="utf-8")
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    if rows and "file" in rows[0] and "line" in rows[0] and "content_hash" not in rows[0]:
        return _truth_from_synth(path, rows)
    truth = {}
    for i, row in enumerate(rows):
        key = row.get("content_hash") or row.get("hash") or row.get("instance_hash")
        cat = row.get("rubric_class") or row.get("category") or row.get("label")
        if key is None or cat is None:
            raise ValueError(
                f"{path}: row {i + 1} needs content_hash and category, got {sorted(row)}"
            )
        truth[str(key)] = str(cat)
    return truth


def _truth_from_synth(path: Path, rows: list[dict]) -> dict[str, str]:
    """tgrd.synth truth.parquet (id, file, line, label5): hash the referenced records."""
    lines_of: dict[str, list[str]] = {}
    truth = {}
    for row in rows:
        rel = row["file"]
        if rel not in lines_of:
            lines_of[rel] = (path.parent / rel).read_text(encoding="utf-8").splitlines()
        try:
            rec = json.loads(lines_of[rel][row["line"] - 1])
            truth[content_hash(rec["messages"])] = str(row.get("label5") or row["category"])
        except (ValueError, KeyError, TypeError, IndexError):
            continue  # a planted malformed line: ingest quarantines it, no teacher sees it
    return truth


def load_answer_key(path: str | Path) -> dict[str, dict]:
    """tgrd.synth answer_key.jsonl → {prompt: entry (task, answer/tolerance or entry_point/test)}."""
    key = {}
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            entry = json.loads(line)
            if "prompt" not in entry or "task" not in entry:
                raise ValueError(f"{path}: line {n} needs 'task' and 'prompt'")
            key[entry["prompt"]] = entry
    return key


def code_program(entry: dict, response: str) -> str:
    """HumanEval-style program: prompt + response (a body or a whole def) + tests + check()."""
    return f"{entry['prompt']}{response}\n\n{entry['test']}\n\ncheck({entry['entry_point']})\n"


def run_hidden_tests(program: str, timeout_s: float = 5.0) -> bool:
    """Run a program in the tgrd.codeeval sandbox; True when every assertion held."""
    from tgrd.codeeval.sandbox import SandboxLimits, run_program

    return run_program(program, SandboxLimits(timeout_s=timeout_s)).passed


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
    def __init__(
        self,
        truth: dict[str, str] | None = None,
        noise: float = 0.0,
        long_answer_bias: float = 0.0,
        long_answer_words: int = 60,
        seed: int = 0,
        answer_key: dict[str, dict] | None = None,
    ):
        self.truth = truth or {}
        self.noise = noise
        self.long_answer_bias = long_answer_bias
        self.long_answer_words = long_answer_words
        self.seed = seed
        self.answer_key = answer_key or {}

    def _key_entry(self, messages: list[dict[str, str]]) -> dict | None:
        users = [m["content"] for m in messages if m["role"] == "user"]
        return self.answer_key.get(users[-1]) if users else None

    def program_to_run(self, messages: list[dict[str, str]]) -> str | None:
        """The hidden-test program when this verdict needs code execution, else None."""
        if (
            not messages
            or messages[-1]["role"] != "assistant"
            or content_hash(messages) in self.truth
        ):
            return None
        entry = self._key_entry(messages)
        answer = messages[-1]["content"]
        if entry is None or entry["task"] != "code" or not answer.strip() or is_repetitive(answer):
            return None
        return code_program(entry, answer)

    def true_class(
        self,
        messages: list[dict[str, str]],
        classes: tuple[str, ...],
        tests_passed: bool | None = None,
        task: str | None = None,
    ) -> tuple[str, str]:
        """(class, why) before noise and bias; ``tests_passed`` from running program_to_run()."""
        answer = messages[-1]["content"] if messages and messages[-1]["role"] == "assistant" else ""
        category = self.truth.get(content_hash(messages))
        entry = self._key_entry(messages) if category is None else None
        if category is not None:
            cls = CATEGORY_TO_CLASS.get(category.lower(), category.upper())
            why = f"planted category {category}"
        elif not answer.strip():
            cls, why = "EMPTY_OR_TRUNCATED", "the response is empty"
        elif is_repetitive(answer):
            cls, why = "DEGENERATE", "the response repeats itself"
        elif self.answer_key and (entry is None or (task is not None and entry["task"] != task)):
            cls, why = "TASK_MISMATCH", "the prompt is not a task of this dataset"
        elif tests_passed is not None:
            cls, why = (
                ("PASS", "the hidden tests pass") if tests_passed else ("INCORRECT", "a test fails")
            )
        elif entry is not None and entry["task"] == "finqa":
            from tgrd.qaeval import score_item

            ok = score_item(entry, answer)
            cls, why = (
                ("PASS", "the number checks out") if ok else ("INCORRECT", "the number is wrong")
            )
        elif "def " in answer and not _python_parses(answer):
            cls, why = "INCORRECT", "the code does not parse"
        else:
            cls, why = "PASS", "no defect found"
        if cls not in classes:
            cls = "INCORRECT" if "INCORRECT" in classes else classes[0]
        return cls, why

    def verdict(
        self,
        messages: list[dict[str, str]],
        classes: tuple[str, ...],
        tests_passed: bool | None = None,
        task: str | None = None,
    ) -> tuple[str, str]:
        """The teacher's (label, rationale), deterministic per instance.

        ``task`` is the dataset's task (code, finqa) when known: with an answer key, a prompt of
        another task, or of none, is TASK_MISMATCH.
        """
        cls, why = self.true_class(messages, classes, tests_passed, task)
        rng = random.Random(zlib.crc32(f"{self.seed}:{content_hash(messages)}".encode()))
        answer = messages[-1]["content"] if messages else ""
        long_answer = len(answer.split()) >= self.long_answer_words
        if cls == "INCORRECT" and long_answer and "PASS" in classes:
            if rng.random() < self.long_answer_bias:
                return "PASS", "a thorough, well-explained answer"
        if rng.random() < self.noise:
            others = [c for c in classes if c != cls]
            return rng.choice(others), "judged on a quick reading"
        return cls, why


def count_tokens(text: str) -> int:
    """Rough BPE-like count: words, numbers and punctuation runs (≈ tiktoken on English)."""
    return len(re.findall(r"\w+|[^\w\s]", text))
