"""Run many untrusted programs in parallel, one sandboxed child per program.

    from tgrd.codeeval.pool import evaluate_programs
    results = evaluate_programs(["assert True", "while True: pass"], workers=2)

Parallelism comes from single-threaded worker *processes*, each holding its own sandbox uid
for its lifetime (:func:`tgrd.codeeval.isolation.claim_slot_uid`). Processes rather than
threads because ``subprocess``'s ``preexec_fn`` is unsafe in a multi-threaded parent. The
workers are *spawned* (fork + exec), so a caller with threads (Ray, pytest plugins) is never
forked, and they are direct children of the caller, so ``PR_SET_PDEATHSIG`` kills them if the
caller dies (with "forkserver", killed callers left idle workers behind). Programs travel in
chunks to keep the pickling overhead per program small.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

from tgrd.codeeval import isolation
from tgrd.codeeval.sandbox import SandboxLimits, SandboxResult, run_program


def _worker_init(parent: int) -> None:
    isolation.die_with_parent()
    if os.getppid() != parent:  # the caller died before we armed the signal
        os._exit(1)


def _run_chunk(
    start: int, sources: list[str], limits: SandboxLimits
) -> tuple[int, list[SandboxResult]]:
    return start, [run_program(src, limits) for src in sources]


def default_workers() -> int:
    """One worker per core we may use: the children do the work, the workers mostly wait."""
    return max(1, len(os.sched_getaffinity(0)))


def evaluate_programs(
    sources: Sequence[str],
    limits: SandboxLimits | None = None,
    *,
    workers: int | None = None,
    chunk_size: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> list[SandboxResult]:
    """Run every program in the sandbox, ``workers`` at a time.

    Args:
        sources: Python programs, each run as its own ``__main__``.
        limits: per-program limits (default :class:`SandboxLimits`).
        workers: concurrent programs; default one per available core.
        chunk_size: programs sent to a worker per task.
        progress: called as ``progress(done, total)`` after each finished chunk.

    Returns:
        One :class:`SandboxResult` per program, in input order.
    """
    limits = limits or SandboxLimits()
    workers = workers or default_workers()
    results: list[SandboxResult | None] = [None] * len(sources)
    if not sources:
        return []
    if workers == 1:  # no pool: simpler to debug, and what a single core would do anyway
        for i, src in enumerate(sources):
            results[i] = run_program(src, limits)
            if progress and (i + 1) % chunk_size == 0:
                progress(i + 1, len(sources))
        return results  # type: ignore[return-value]
    # As always with "spawn", a calling script needs an `if __name__ == "__main__":` guard.
    ctx = multiprocessing.get_context("spawn")
    done = 0
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=_worker_init, initargs=(os.getpid(),)
    ) as pool:
        pending = {
            pool.submit(_run_chunk, i, list(sources[i : i + chunk_size]), limits)
            for i in range(0, len(sources), chunk_size)
        }
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                start, chunk = fut.result()
                results[start : start + len(chunk)] = chunk
                done += len(chunk)
            if progress:
                progress(done, len(sources))
    return results  # type: ignore[return-value]


def print_progress(every_s: float = 10.0) -> Callable[[int, int], None]:
    """A progress callback that prints ``done/total`` and the rate at most every ``every_s``."""
    t0 = time.perf_counter()
    last = [t0]

    def report(done: int, total: int) -> None:
        now = time.perf_counter()
        if now - last[0] >= every_s or done == total:
            last[0] = now
            rate = done / max(now - t0, 1e-9)
            print(f"  {done}/{total} programs, {rate:.1f}/s", file=sys.stderr, flush=True)

    return report
