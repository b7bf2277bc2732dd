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
    response = {
        "clean": p.clean,
        "malformed": p.clean,
        "off_task_other": p.clean,
        "terse": p.terse,
        "incorrect": p.wrong,
        "verbose_wrong": p.verbose_wrong,
    }.get(category)
    if response is None:
        response = {
            "empty": lambda: empty_response(rng),
            "truncated": lambda: truncate(p.clean, rng),
            "repetition": lambda: repeat_fragment(p.clean, rng),
        }[category]()
    return p.prompt, response


def _write_dataset(
    path: Path,
    task: str,
    dataset: str,
    categories: list[str],
    sources: dict[str, _ProblemSource],
    cfg: SynthConfig,
    key: dict[tuple[str, str], dict[str, Any]],
    truth: list[dict[str, Any]],
) -> None:
    rng = random.Random(stable_seed(cfg.seed, task, dataset, "instances"))
    path.parent.mkdir(parents=True, exist_ok=True)
    rel = (
        f"{task}/{path.relative_to(path.parents[1]).as_posix()}"
        if dataset != "pool"
        else f"{task}/pool.jsonl"
    )
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
        plan = [("pool", tdir / "pool.jsonl", cfg.pool_mix, cfg.pool_size)]
        plan += [
            (f"cand_{k:02d}", tdir / "candidates" / f"cand_{k:02d}.jsonl", mix, size)
            for k, (mix, size) in enumerate(zip(recipes, cfg.sizes(), strict=True))
        ]
        for name, path, mix, size in plan:
            cats = allocate(mix, size, random.Random(stable_seed(cfg.seed, task, name, "allocate")))
            _write_dataset(path, task, name, cats, sources, cfg, key, truth)
            datasets[name] = {
                "file": path.relative_to(out).as_posix(),
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
    pq.write_table(pa.Table.from_pylist(truth, schema=_TRUTH_SCHEMA()), out / "truth.parquet")
    (out / "manifest.json").write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return manifest


def _TRUTH_SCHEMA():  # noqa: N802 - a constant built lazily so pyarrow loads only when writing
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
