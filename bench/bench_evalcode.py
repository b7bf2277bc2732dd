"""Throughput of the sandboxed code evaluator against plain ``subprocess.run`` per program.

    python bench/bench_evalcode.py [--workers 2] [--repeat 1] [--problems FILE]

Workload: HumanEval's 164 canonical solutions (prompt + solution + test + check), each run as
its own Python process. Baseline: a thread pool of ``workers`` threads, each writing the program
to a temp file and calling ``subprocess.run([python, file], timeout=...)`` — no limits, no
isolation. Sandboxed: :func:`tgrd.codeeval.pool.evaluate_programs` with every limit on (CPU,
address space, file size, open files, processes, new session, scratch dir, scrubbed env, network
namespace, private /tmp, dedicated uid, process reaping). Both run in the same process, twice
each in A-B-B-A order to even out a shared machine's load; the ratio sandboxed/baseline is the
figure of merit (goal >= 0.5).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tgrd.codeeval import isolation
from tgrd.codeeval.pool import evaluate_programs
from tgrd.codeeval.problems import build_program, canonical_samples, load_problems
from tgrd.codeeval.sandbox import SandboxLimits

DEFAULT_PROBLEMS = Path(__file__).resolve().parents[2] / "shared/data/humaneval/HumanEval.jsonl.gz"


def plain_subprocess(programs: list[str], workers: int, timeout_s: float) -> int:
    """Baseline: one ``subprocess.run`` per program from a thread pool; returns passes."""
    with tempfile.TemporaryDirectory() as tmp:

        def one(i: int) -> bool:
            path = Path(tmp, f"p{i}.py")
            path.write_text(programs[i])
            try:
                return (
                    subprocess.run(
                        [sys.executable, str(path)], capture_output=True, timeout=timeout_s
                    ).returncode
                    == 0
                )
            except subprocess.TimeoutExpired:
                return False

        with ThreadPoolExecutor(workers) as pool:
            return sum(pool.map(one, range(len(programs))))


def sandboxed(programs: list[str], workers: int, timeout_s: float) -> int:
    results = evaluate_programs(programs, SandboxLimits(timeout_s=timeout_s), workers=workers)
    return sum(r.passed for r in results)


def timed(fn, programs, workers, timeout_s) -> tuple[float, int]:
    t0 = time.perf_counter()
    passed = fn(programs, workers, timeout_s)
    return len(programs) / (time.perf_counter() - t0), passed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", default=str(DEFAULT_PROBLEMS))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--repeat", type=int, default=1, help="run the 164 programs this many times"
    )
    parser.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args()

    problems = load_problems(args.problems)
    programs = [
        build_program(problems[s.task_id], s.completion, s.prompt)
        for s in canonical_samples(problems)
    ] * args.repeat
    print(f"workload: {len(programs)} HumanEval canonical programs, {args.workers} workers")
    print(f"isolation: {isolation.probe().as_dict()}")
    rates: dict[str, list[float]] = {"subprocess.run": [], "sandboxed": []}
    for name in ("subprocess.run", "sandboxed", "sandboxed", "subprocess.run"):  # A-B-B-A
        fn = plain_subprocess if name == "subprocess.run" else sandboxed
        rate, passed = timed(fn, programs, args.workers, args.timeout)
        rates[name].append(rate)
        print(f"  {name:15s} {rate:7.1f} programs/s  ({passed}/{len(programs)} passed)")
    base = sum(rates["subprocess.run"]) / 2
    sand = sum(rates["sandboxed"]) / 2
    print(f"subprocess.run baseline: {base:.1f} programs/s")
    print(f"sandboxed evaluator:     {sand:.1f} programs/s")
    print(f"ratio sandboxed/baseline: {sand / base:.2f}x (goal >= 0.5x)")


if __name__ == "__main__":
    main()
