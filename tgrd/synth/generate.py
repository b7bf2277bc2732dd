"""Write the synthetic benchmark: pool, candidates, held-out benchmark, truth and manifest.

    tgrd synth --config configs/synth_demo.yaml --out runs/synth
    # or, from Python:
    from tgrd.synth.generate import generate
    manifest = generate(load_config("configs/synth_smoke.yaml").synth, Path("runs/synth"))

Layout under OUT (deterministic: the same config and seed give byte-identical files)::

    <task>/pool.jsonl                 training pool for the teacher/student stages
    <task>/candidates/cand_00.jsonl   K candidate datasets (canonical records, some lines broken)
    <task>/benchmark.jsonl            held-out items (code: HumanEval problems; finqa: QA items)
    answer_key.jsonl                  grading of every training prompt, for a checking judge
    truth.parquet                     id, task, dataset, file, line, category, label5, label3
    manifest.json                     config, counts per category per dataset, recipes

Records carry no category: the planted category lives only in truth.parquet. Benchmark prompts
never occur in the pool or the candidates.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

from tgrd.synth.code_tasks import make_code_problem
from tgrd.synth.defects import chat_pair, empty_response, malformed_line, repeat_fragment, truncate
from tgrd.synth.finqa_tasks import make_finqa_problem
from tgrd.synth.problem import Problem
from tgrd.synth.recipes import (
    LABEL3,
    LABEL5,
    allocate,
    candidate_recipes,
    correct_fraction,
    stable_seed,
)
from tgrd.synth.settings import TASKS, SynthConfig

SOURCE = "tgrd.synth"


class _ProblemSource:
    """Draws problems of one task, never one whose prompt is reserved for the benchmark."""

    def __init__(self, task: str, cfg: SynthConfig, reserved: set[str]):
        self.task, self.cfg, self.reserved = task, cfg, reserved

    def draw(self, rng: random.Random) -> Problem:
        for _ in range(200):
            if self.task == "code":
                p = make_code_problem(rng, self.cfg.difficulty)
            else:
                p = make_finqa_problem(
                    rng, self.cfg.difficulty, self.cfg.finqa_abs_tol, self.cfg.finqa_rel_tol
                )
            if p.prompt not in self.reserved:
                return p
        raise RuntimeError(
            f"{self.task}: could not draw a prompt outside the benchmark; lower benchmark_size"
        )


def _benchmark(task: str, cfg: SynthConfig) -> list[Problem]:
    rng = random.Random(stable_seed(cfg.seed, task, "benchmark"))
    source, seen, out = _ProblemSource(task, cfg, set()), set(), []
    for _ in range(cfg.benchmark_size * 50):
        p = source.draw(rng)
        if p.prompt not in seen:
            seen.add(p.prompt)
            out.append(p)
            if len(out) == cfg.benchmark_size:
                return out
    raise RuntimeError(
        f"{task}: only {len(out)} distinct benchmark prompts at difficulty {cfg.difficulty}"
    )


def _instance(
    category: str,
    task: str,
    sources: dict[str, _ProblemSource],
    cfg: SynthConfig,
    rng: random.Random,
    key: dict[tuple[str, str], dict[str, Any]],
) -> tuple[str, str]:
    """(prompt, response) of one instance of ``category``; records graded prompts in ``key``."""
    if category == "off_task_chat":
        return chat_pair(rng, cfg.difficulty)
    other = next(t for t in TASKS if t != task)
    p = sources[other if category == "off_task_other" else task].draw(rng)
    key.setdefault((p.task, p.prompt), p.answer_key())
    if category in ("clean", "off_task_other", "malformed"):  # malformed: the line breaks later
        response = p.clean
    elif category == "terse":
        response = p.terse
    elif category == "incorrect":
        response = p.wrong
    elif category == "verbose_wrong":
        response = p.verbose_wrong
    elif category == "empty":
        response = empty_response(rng)
    elif category == "truncated":
        response = truncate(p.clean, rng)
    elif category == "repetition":
        response = repeat_fragment(p.clean, rng)
    else:
        raise ValueError(f"unknown category {category!r}")
    return p.prompt, response


def _write_dataset(
    out: Path,
    rel: str,
    task: str,
    dataset: str,
    categories: list[str],
    sources: dict[str, _ProblemSource],
    cfg: SynthConfig,
    key: dict[tuple[str, str], dict[str, Any]],
    truth: list[dict[str, Any]],
) -> None:
    rng = random.Random(stable_seed(cfg.seed, task, dataset, "instances"))
    path = out / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for line_no, category in enumerate(categories, start=1):
            prompt, response = _instance(category, task, sources, cfg, rng, key)
            rid = f"{task}-{dataset}-{line_no - 1:06d}"
            record = {
                "id": rid,
                "messages": [
                    {"role": "user", "content": prompt},
                    {"role": "assistant", "content": response},
                ],
                "task": task,
                "meta": {"source": SOURCE},
            }
            line = (
                malformed_line(record, rng)
                if category == "malformed"
                else json.dumps(record, ensure_ascii=False)
            )
            fh.write(line + "\n")
            truth.append(
                {
                    "id": rid,
                    "task": task,
                    "dataset": dataset,
                    "file": rel,
                    "line": line_no,
                    "category": category,
                    "label5": LABEL5[category],
                    "label3": LABEL3[category],
                }
            )


def generate(cfg: SynthConfig, out: Path) -> dict[str, Any]:
    """Generate every task of ``cfg`` under ``out`` and return the manifest (also written)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out.mkdir(parents=True, exist_ok=True)
    # Benchmarks of both tasks are drawn first: off-task instances borrow the other task's
    # problems, and must not leak its benchmark either.
    benchmarks = {t: _benchmark(t, cfg) for t in TASKS}
    sources = {t: _ProblemSource(t, cfg, {p.prompt for p in benchmarks[t]}) for t in TASKS}
    recipes = candidate_recipes(cfg.num_candidates, cfg.seed, cfg.recipes)
    key: dict[tuple[str, str], dict[str, Any]] = {}
    truth: list[dict[str, Any]] = []
    manifest: dict[str, Any] = {
        "seed": cfg.seed,
        "config": cfg.model_dump(mode="json"),
        "tasks": {},
        "truth": "truth.parquet",
        "answer_key": "answer_key.jsonl",
    }
    for task in cfg.tasks:
        tdir = out / task
        tdir.mkdir(parents=True, exist_ok=True)
        bench_path = tdir / "benchmark.jsonl"
        with bench_path.open("w", encoding="utf-8") as fh:
            for i, p in enumerate(benchmarks[task]):
                fh.write(
                    json.dumps(p.benchmark_item(f"{task}-bench/{i}"), ensure_ascii=False) + "\n"
                )
        datasets: dict[str, Any] = {}
        plan = [("pool", f"{task}/pool.jsonl", cfg.pool_mix, cfg.pool_size)]
        plan += [
            (f"cand_{k:02d}", f"{task}/candidates/cand_{k:02d}.jsonl", mix, size)
            for k, (mix, size) in enumerate(zip(recipes, cfg.sizes(), strict=True))
        ]
        for name, rel, mix, size in plan:
            cats = allocate(mix, size, random.Random(stable_seed(cfg.seed, task, name, "allocate")))
            _write_dataset(out, rel, task, name, cats, sources, cfg, key, truth)
            datasets[name] = {
                "file": rel,
                "size": size,
                "recipe": dict(mix),
                "correct_fraction": round(correct_fraction(mix), 6),
                "counts": dict(sorted(Counter(cats).items())),
            }
        manifest["tasks"][task] = {
            "benchmark": {
                "file": bench_path.relative_to(out).as_posix(),
                "size": len(benchmarks[task]),
                "format": "humaneval" if task == "code" else "qa",
            },
            "datasets": datasets,
        }
    with (out / "answer_key.jsonl").open("w", encoding="utf-8") as fh:
        for entry in key.values():
            fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
    pq.write_table(pa.Table.from_pylist(truth, schema=_truth_schema()), out / "truth.parquet")
    (out / "manifest.json").write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return manifest


def _truth_schema():  # built lazily: pyarrow loads only when writing
    import pyarrow as pa

    return pa.schema(
        [
            ("id", pa.string()),
            ("task", pa.string()),
            ("dataset", pa.string()),
            ("file", pa.string()),
            ("line", pa.int64()),
            ("category", pa.string()),
            ("label5", pa.string()),
            ("label3", pa.string()),
        ]
    )
