"""HumanEval-convention problem and sample files: loading, matching and program building.

    from tgrd.codeeval.problems import load_problems, load_samples, build_program
    problems = load_problems("../shared/data/humaneval/HumanEval.jsonl.gz")
    samples = load_samples("samples.jsonl", problems)   # or "canonical"

Problems (JSONL or .jsonl.gz): ``task_id``, ``prompt``, ``entry_point``, ``test`` (defining
``check(candidate)``), optionally ``canonical_solution``. Samples, one of two layouts:

* HumanEval: one line per sample, ``{"task_id", "completion"}``;
* CodeT: one line per problem, ``{"prompt", "samples": [completion, ...]}``, optionally with
  ``task_id``. Without a task_id the problem is found by its prompt: exactly, else by the last
  top-level ``def`` name (CodeT strips the doctest examples from HumanEval prompts).

The program run for a sample is HumanEval's: prompt + completion + test + ``check(entry_point)``,
with the prompt the model saw (the sample's own, in the CodeT layout).
"""

from __future__ import annotations

import difflib
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from tgrd.jsonl import read_json_objects

PROBLEM_KEYS = ("task_id", "prompt", "entry_point", "test")
# Codex's stop sequences (Chen et al. 2021), also CodeT's post-processing: a completion
# ends where the model starts a new top-level statement.
CODEX_STOP = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")
_DEF = re.compile(r"^def\s+([A-Za-z_]\w*)\s*\(", re.MULTILINE)


@dataclass(frozen=True)
class Sample:
    """One completion to evaluate; ``prompt`` overrides the problem's when the sample has one."""

    task_id: str
    index: int  # position among this task's samples
    completion: str
    prompt: str | None = None


def read_jsonl(path: str | Path) -> list[tuple[int, dict]]:
    """``(line number, object)`` for every non-blank line of a JSONL or .jsonl.gz file."""
    return read_json_objects(path)


def load_problems(path: str | Path) -> dict[str, dict]:
    """Problems keyed by task_id, in file order; missing keys or duplicates are errors."""
    problems: dict[str, dict] = {}
    for lineno, row in read_jsonl(path):
        missing = [k for k in PROBLEM_KEYS if not isinstance(row.get(k), str)]
        if missing:
            raise ValueError(f"{path}:{lineno}: problem lacks string key(s) {missing}")
        if row["task_id"] in problems:
            raise ValueError(f"{path}:{lineno}: duplicate task_id {row['task_id']!r}")
        problems[row["task_id"]] = row
    if not problems:
        raise ValueError(f"{path}: no problems")
    return problems


def _match_prompt(prompt: str, problems: dict[str, dict], by_name: dict[str, list[str]]) -> str:
    for task_id, problem in problems.items():
        if problem["prompt"] == prompt:
            return task_id
    names = _DEF.findall(prompt)
    candidates = by_name.get(names[-1], []) if names else []
    if not candidates:
        raise LookupError(f"no problem has entry point {names[-1:]}")
    # Same name in several problems (HumanEval has two `sort_array`s and two
    # `correct_bracketing`s): CodeT only removed lines, so the right prompt contains them all.
    lines = {ln.strip() for ln in prompt.splitlines() if ln.strip()}
    containing = [
        t for t in candidates if lines <= {ln.strip() for ln in problems[t]["prompt"].splitlines()}
    ]
    if len(containing) == 1:
        return containing[0]
    scored = sorted(
        (difflib.SequenceMatcher(None, prompt, problems[t]["prompt"]).ratio(), t)
        for t in candidates
    )
    if len(scored) > 1 and scored[-1][0] - scored[-2][0] < 0.1:
        raise LookupError(f"prompt is ambiguous between {[t for _, t in scored[-2:]]}")
    return scored[-1][1]


def load_samples(path: str | Path, problems: dict[str, dict]) -> list[Sample]:
    """Samples in either layout (see module docstring), checked against ``problems``."""
    if str(path) == "canonical":
        return canonical_samples(problems)
    by_name: dict[str, list[str]] = defaultdict(list)
    for task_id, problem in problems.items():
        by_name[problem["entry_point"]].append(task_id)
    samples: list[Sample] = []
    seen: Counter[str] = Counter()
    for lineno, row in read_jsonl(path):
        where = f"{path}:{lineno}"
        if isinstance(row.get("samples"), list):  # CodeT layout
            try:
                task_id = row.get("task_id") or _match_prompt(row["prompt"], problems, by_name)
            except (KeyError, LookupError) as exc:
                raise ValueError(
                    f"{where}: cannot match sample prompt to a problem: {exc}"
                ) from None
            completions, prompt = row["samples"], row["prompt"]
            if seen[task_id]:
                raise ValueError(f"{where}: a second line of samples for {task_id}")
        elif isinstance(row.get("completion"), str) and "task_id" in row:
            task_id, completions, prompt = row["task_id"], [row["completion"]], None
        else:
            raise ValueError(
                f"{where}: need task_id+completion or prompt+samples, got {sorted(row)}"
            )
        if task_id not in problems:
            raise ValueError(f"{where}: unknown task_id {task_id!r}")
        for completion in completions:
            if not isinstance(completion, str):
                raise ValueError(f"{where}: completion is {type(completion).__name__}, not str")
            samples.append(Sample(task_id, seen[task_id], completion, prompt))
            seen[task_id] += 1
    return samples


def canonical_samples(problems: dict[str, dict]) -> list[Sample]:
    """One sample per problem: its ``canonical_solution``.

    CodeT's MBPP file inserts a docstring (4-space indent) into each prompt, but the canonical
    bodies keep the original code's indentation (2 spaces, tabs). Where prompt + body does not
    compile, the inserted docstring is dropped from the prompt for that sample.
    """
    missing = [t for t, p in problems.items() if not isinstance(p.get("canonical_solution"), str)]
    if missing:
        raise ValueError(f"no canonical_solution for {len(missing)} problems, e.g. {missing[0]}")
    samples = []
    for task_id, problem in problems.items():
        body, prompt = problem["canonical_solution"], None
        if not _compiles(problem["prompt"] + body):
            stripped = _TRAILING_DOCSTRING.sub("\n", problem["prompt"])
            prompt = stripped if _compiles(stripped + body) else None
        samples.append(Sample(task_id, 0, body, prompt))
    return samples


_TRAILING_DOCSTRING = re.compile(r"\n[ \t]*(\'\'\'|\"\"\")[\s\S]*?\1[ \t]*\n?$")


def _compiles(source: str) -> bool:
    try:
        compile(source, "<sample>", "exec")
    except (SyntaxError, ValueError):
        return False
    return True


def build_program(problem: dict, completion: str, prompt: str | None = None) -> str:
    """HumanEval's program: prompt + completion + test + ``check(entry_point)``."""
    prompt = problem["prompt"] if prompt is None else prompt
    return f"{prompt}{completion}\n{problem['test']}\ncheck({problem['entry_point']})\n"


def truncate_at_stop(completion: str, stops: tuple[str, ...]) -> str:
    """Cut ``completion`` at the earliest occurrence of any stop sequence."""
    cut = min((i for i in (completion.find(s) for s in stops) if i >= 0), default=len(completion))
    return completion[:cut]
