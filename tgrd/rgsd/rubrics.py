"""Rubrics as lists of weighted, rule-checkable criteria; JSONL reading; rubric satisfaction.

A rubric task is a prompt plus its own rubric. Every criterion here can be checked by a rule, so
rubric satisfaction is measured without a judge (the RGSD paper's judge-based metric is replaced
by these checks on the synthetic tasks):

    from tgrd.rgsd.rubrics import read_tasks, satisfaction
    tasks = read_tasks("runs/rgsd/data/eval.jsonl")
    score = satisfaction("- Carry 2 liters of water.", tasks[0].rubric)   # in [0, 1]

JSONL line format::

    {"id": "t1", "prompt": "Give advice on hiking.",
     "rubric": [{"kind": "mentions", "term": "water", "weight": 2},
                {"kind": "max_words", "n": 25}, {"kind": "number_with_unit", "unit": "liters"},
                {"kind": "format", "style": "bullets"}, {"kind": "ends_with_recommendation"}]}

A malformed line raises :class:`RubricError` naming the file, the line and the key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# kind → (required argument key or None, its type). The argument is what the rule checks against.
CRITERION_KINDS: dict[str, tuple[str | None, type | None]] = {
    "mentions": ("term", str),
    "max_words": ("n", int),
    "number_with_unit": ("unit", str),
    "format": ("style", str),
    "ends_with_recommendation": (None, None),
}
FORMAT_STYLES = ("bullets", "numbered")


class RubricError(ValueError):
    """A rubric task is malformed; the message names the file, line and key."""


@dataclass(frozen=True)
class Criterion:
    """One rubric criterion: a rule kind, its argument and a positive weight."""

    kind: str
    weight: float = 1.0
    arg: str | int | None = None

    def to_dict(self) -> dict[str, Any]:
        key, _ = CRITERION_KINDS[self.kind]
        out: dict[str, Any] = {"kind": self.kind, "weight": self.weight}
        if key is not None:
            out[key] = self.arg
        return out

    def describe(self) -> str:
        """Short imperative text rendered into the teacher's prompt."""
        if self.kind == "mentions":
            return f"mention {self.arg}"
        if self.kind == "max_words":
            return f"under {self.arg} words"
        if self.kind == "number_with_unit":
            return f"give a number in {self.arg}"
        if self.kind == "format":
            return "use bullet points" if self.arg == "bullets" else "use a numbered list"
        return "end with a recommendation"


@dataclass(frozen=True)
class RubricTask:
    """A prompt with its rubric; ``meta`` carries generator details (topic, template)."""

    id: str
    prompt: str
    rubric: tuple[Criterion, ...]
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "prompt": self.prompt,
            "rubric": [c.to_dict() for c in self.rubric],
            "meta": self.meta,
        }


def render_rubric(rubric: Iterable[Criterion]) -> str:
    """The rubric as the teacher sees it: one ``- criterion`` line per criterion."""
    return "\n".join(f"- {c.describe()}" for c in rubric)


# --- rules -------------------------------------------------------------------------------------

_LIST_LINE = {"bullets": re.compile(r"^\s*[-*] \S"), "numbered": re.compile(r"^\s*\d+[.)] \S")}


def criterion_met(response: str, criterion: Criterion) -> bool:
    """Whether ``response`` meets one criterion (a deterministic rule, no judge)."""
    kind, arg = criterion.kind, criterion.arg
    if kind == "mentions":
        return re.search(rf"\b{re.escape(str(arg))}\b", response, re.IGNORECASE) is not None
    if kind == "max_words":
        # An empty response would satisfy "under N words" for free; demand at least one word.
        return 0 < len(response.split()) <= int(arg)  # type: ignore[arg-type]
    if kind == "number_with_unit":
        pattern = rf"\b\d+(?:[.,]\d+)?\s*{re.escape(str(arg))}\b"
        return re.search(pattern, response, re.IGNORECASE) is not None
    if kind == "format":
        # A list needs at least two items; one dash line is not a list.
        lines = response.splitlines()
        return sum(1 for line in lines if _LIST_LINE[str(arg)].match(line)) >= 2
    if kind == "ends_with_recommendation":
        lines = [line for line in response.splitlines() if line.strip()]
        return bool(lines) and "recommend" in lines[-1].lower()
    raise RubricError(f"unknown criterion kind {kind!r}")


def satisfaction(response: str, rubric: Iterable[Criterion]) -> float:
    """Weighted fraction of criteria met, in [0, 1] (the paper's rubric satisfaction)."""
    total = met = 0.0
    for criterion in rubric:
        total += criterion.weight
        met += criterion.weight * criterion_met(response, criterion)
    if total <= 0:
        raise RubricError("rubric has no positive weight")
    return met / total


# --- parsing -----------------------------------------------------------------------------------


def parse_criterion(raw: Any, where: str) -> Criterion:
    """Validate one criterion object; ``where`` prefixes errors (``file:line: rubric[2]``)."""
    if not isinstance(raw, dict):
        raise RubricError(f"{where}: expected an object, got {type(raw).__name__}")
    kind = raw.get("kind")
    if kind not in CRITERION_KINDS:
        raise RubricError(
            f"{where}.kind: unknown criterion kind {kind!r} (one of {sorted(CRITERION_KINDS)})"
        )
    key, typ = CRITERION_KINDS[kind]
    allowed = {"kind", "weight"} | ({key} if key else set())
    extra = sorted(set(raw) - allowed)
    if extra:
        raise RubricError(f"{where}: unknown key {extra[0]!r} for kind {kind!r}")
    weight = raw.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight <= 0:
        raise RubricError(f"{where}.weight: expected a positive number, got {weight!r}")
    arg = None
    if key is not None:
        if key not in raw:
            raise RubricError(f"{where}.{key}: missing (required for kind {kind!r})")
        arg = raw[key]
        if isinstance(arg, bool) or not isinstance(arg, typ) or (typ is str and not arg.strip()):
            raise RubricError(f"{where}.{key}: expected a non-empty {typ.__name__}, got {arg!r}")
        if kind == "max_words" and arg <= 0:
            raise RubricError(f"{where}.{key}: expected a positive integer, got {arg!r}")
        if kind == "format" and arg not in FORMAT_STYLES:
            raise RubricError(f"{where}.{key}: expected one of {FORMAT_STYLES}, got {arg!r}")
    return Criterion(kind=kind, weight=float(weight), arg=arg)


def parse_task(row: Any, where: str) -> RubricTask:
    """Validate one JSONL row into a :class:`RubricTask`."""
    if not isinstance(row, dict):
        raise RubricError(f"{where}: expected a JSON object, got {type(row).__name__}")
    for key in ("id", "prompt"):
        if not isinstance(row.get(key), str) or not row[key].strip():
            raise RubricError(
                f"{where}: key {key!r}: expected a non-empty string, got {row.get(key)!r}"
            )
    rubric = row.get("rubric")
    if not isinstance(rubric, list) or not rubric:
        raise RubricError(f"{where}: key 'rubric': expected a non-empty list, got {rubric!r}")
    meta = row.get("meta", {})
    if not isinstance(meta, dict):
        raise RubricError(f"{where}: key 'meta': expected an object, got {meta!r}")
    extra = sorted(set(row) - {"id", "prompt", "rubric", "meta"})
    if extra:
        raise RubricError(f"{where}: unknown key {extra[0]!r}")
    criteria = tuple(parse_criterion(c, f"{where}: rubric[{i}]") for i, c in enumerate(rubric))
    return RubricTask(id=row["id"], prompt=row["prompt"], rubric=criteria, meta=meta)


def read_tasks(path: str | Path) -> list[RubricTask]:
    """Read rubric tasks from JSONL (blank lines skipped); ids must be unique.

    Raises:
        RubricError: invalid JSON, a malformed row or a duplicate id, naming ``file:line``.
    """
    tasks: list[RubricTask] = []
    seen: dict[str, int] = {}
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise RubricError(f"{where}: invalid JSON: {exc.msg}") from None
            task = parse_task(row, where)
            if task.id in seen:
                raise RubricError(
                    f"{where}: key 'id': duplicate id {task.id!r} (first on line {seen[task.id]})"
                )
            seen[task.id] = lineno
            tasks.append(task)
    if not tasks:
        raise RubricError(f"{path}: no tasks")
    return tasks


def write_tasks(tasks: Iterable[RubricTask], path: str | Path) -> None:
    """Write tasks as JSONL (the format :func:`read_tasks` reads)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for task in tasks:
            fh.write(json.dumps(task.to_dict(), ensure_ascii=False) + "\n")
