"""HumanEval-style evaluation: problem and sample files in, per-sample results and pass@k out.

    tgrd evalcode --problems ../shared/data/humaneval/HumanEval.jsonl.gz --samples canonical \\
        --out runs/evalcode/humaneval-canonical

File layouts are in :mod:`tgrd.codeeval.problems`. ``samples="canonical"`` evaluates each
problem's ``canonical_solution`` (expect 164/164 on HumanEval). Writes ``results.jsonl``,
``results.parquet`` and ``summary.json`` under the output dir; a rerun with the same inputs,
stop sequences and limits is a no-op.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

from tgrd.codeeval import isolation
from tgrd.codeeval.passk import mean_pass_at_k
from tgrd.codeeval.pool import default_workers, evaluate_programs
from tgrd.codeeval.problems import build_program, load_problems, load_samples, truncate_at_stop
from tgrd.codeeval.sandbox import REASONS, SandboxLimits


def _fingerprint(*parts: object) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else json.dumps(part, sort_keys=True).encode())
    return h.hexdigest()[:16]


def evaluate_files(
    problems_path: str | Path,
    samples_path: str | Path,
    out_dir: str | Path,
    *,
    ks: tuple[int, ...] = (1, 10, 100),
    limits: SandboxLimits | None = None,
    workers: int | None = None,
    stop: tuple[str, ...] = (),
    progress: Callable[[int, int], None] | None = None,
    force: bool = False,
) -> dict:
    """Evaluate every sample, write results and a summary, and return the summary.

    Args:
        problems_path: HumanEval-style problems file.
        samples_path: samples file (either layout) or ``"canonical"``.
        out_dir: where ``results.jsonl``, ``results.parquet`` and ``summary.json`` go.
        ks: the k values for pass@k; a k above a problem's sample count is reported as null.
        limits: sandbox limits; workers: parallel programs.
        stop: stop sequences to cut completions at before running them (e.g. CODEX_STOP, which
            published CodeGen/CodeT figures apply); empty runs completions as given.
        progress: optional ``progress(done, total)`` callback.
        force: re-run even if ``summary.json`` already holds this exact evaluation.
    """
    limits = limits or SandboxLimits()
    workers = workers or default_workers()
    out = Path(out_dir)
    problems = load_problems(problems_path)
    samples = load_samples(samples_path, problems)
    samples_bytes = (
        b"canonical" if str(samples_path) == "canonical" else Path(samples_path).read_bytes()
    )
    key = _fingerprint(
        Path(problems_path).read_bytes(), samples_bytes, list(ks), list(stop), asdict(limits)
    )
    summary_path = out / "summary.json"
    if not force and summary_path.exists():
        previous = json.loads(summary_path.read_text())
        if previous.get("fingerprint") == key:
            return previous
    if stop:
        samples = [replace(s, completion=truncate_at_stop(s.completion, stop)) for s in samples]
    programs = [build_program(problems[s.task_id], s.completion, s.prompt) for s in samples]
    t0 = time.perf_counter()
    results = evaluate_programs(programs, limits, workers=workers, progress=progress)
    wall = time.perf_counter() - t0
    rows = [
        {
            "task_id": s.task_id,
            "sample_index": s.index,
            "completion": s.completion,
            "passed": r.passed,
            "reason": r.reason,
            "returncode": r.returncode,
            "wall_s": r.wall_s,
            "stderr_tail": r.stderr[-500:],
        }
        for s, r in zip(samples, results, strict=True)
    ]
    summary = summarize(rows, ks)
    summary.update(
        fingerprint=key,
        problems=str(problems_path),
        samples=str(samples_path),
        wall_s=round(wall, 2),
        programs_per_s=round(len(rows) / wall, 2),
        workers=workers,
        stop=list(stop),
        limits=asdict(limits),
        isolation=isolation.probe().as_dict(),
    )
    write_results(rows, out)
    summary_path.write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def summarize(rows: list[dict], ks: tuple[int, ...]) -> dict:
    """pass@k, reason counts and per-task counts from per-sample result rows."""
    per_task: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        per_task[row["task_id"]][0] += 1
        per_task[row["task_id"]][1] += int(row["passed"])
    reasons = Counter(row["reason"] for row in rows)
    return {
        "n_problems": len(per_task),
        "n_samples": len(rows),
        "n_passed": sum(c for _, c in per_task.values()),
        "problems_solved": sum(c > 0 for _, c in per_task.values()),
        "pass_at_k": mean_pass_at_k(per_task.values(), ks),
        "reasons": {r: reasons.get(r, 0) for r in REASONS},
    }


def write_results(rows: list[dict], out: Path) -> None:
    """``results.jsonl`` (HumanEval's habit) and ``results.parquet`` (the project's)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out.mkdir(parents=True, exist_ok=True)
    with open(out / "results.jsonl", "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    pq.write_table(pa.Table.from_pylist(rows), out / "results.parquet")
