"""pass@1 of generated completions on HumanEval-format problems, run in the code sandbox.

    from tgrd.downstream.codebench import evaluate_code
    passed = evaluate_code(problems, completions)      # list[bool], one per problem

Model-written code never runs in this process: it runs under :mod:`tgrd.codeeval.sandbox`
(own uid, no network, resource limits, scratch dir). A cold sandboxed interpreter costs ~0.1 s,
which for 200 problems × 24 trials would dominate the demo's sweep, so by default one sandboxed
harness runs a whole trial's programs: it forks one child per program (stdout/stderr to
/dev/null, the result channel closed, a wall deadline enforced by the parent, which kills the
child's whole process group), and reads pass/fail from the child's exit status only. A program
can therefore not print a fake result; if the harness itself does not come back (a program
killed it, or the batch hit the sandbox timeout), every program without a result is re-run
alone through :func:`tgrd.codeeval.pool.evaluate_programs`. ``batch=False`` always runs one
sandbox per program (HumanEval's own protocol).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from tgrd.codeeval.problems import build_program
from tgrd.codeeval.sandbox import SandboxLimits, run_program

_MARK = "TGRD-BATCH-RESULTS "

# Runs inside the sandbox. PROGRAMS and TIMEOUT are prepended as literals.
_HARNESS = r"""
import json, os, signal, time

def _run_one(src, timeout):
    pid = os.fork()
    if pid == 0:
        try:
            os.setpgid(0, 0)
            os.close(_RESULT_FD)
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            g = {"__name__": "__main__"}
            exec(compile(src, "<program>", "exec"), g)
        except BaseException:
            os._exit(1)
        os._exit(0)
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        if time.monotonic() > deadline:
            for target in (-pid, pid):
                try:
                    os.kill(target, signal.SIGKILL)
                except OSError:
                    pass
            os.waitpid(pid, 0)
            return False
        time.sleep(0.001)

_RESULT_FD = os.dup(1)
_results = [_run_one(s, TIMEOUT) for s in PROGRAMS]
os.write(_RESULT_FD, ("MARK" + json.dumps(_results) + "\n").encode())
"""


def build_programs(problems: Sequence[dict], completions: Sequence[str]) -> list[str]:
    """HumanEval programs (prompt + completion + test + ``check(entry_point)``), one per problem."""
    if len(problems) != len(completions):
        raise ValueError(f"{len(problems)} problems but {len(completions)} completions")
    return [build_program(p, c) for p, c in zip(problems, completions, strict=True)]


def _harness_source(programs: list[str], timeout_s: float) -> str:
    head = f"PROGRAMS = {json.dumps(programs)}\nTIMEOUT = {timeout_s!r}\n"
    return head + _HARNESS.replace('"MARK"', repr(_MARK))


def _parse_batch(stdout: str, n: int) -> list[bool] | None:
    for line in stdout.splitlines():
        if line.startswith(_MARK):
            got = json.loads(line[len(_MARK) :])
            if isinstance(got, list) and len(got) == n and all(isinstance(x, bool) for x in got):
                return got
    return None


def evaluate_code(
    problems: Sequence[dict],
    completions: Sequence[str],
    *,
    timeout_s: float = 5.0,
    batch: bool = True,
) -> list[bool]:
    """Whether each completion passes its problem's hidden tests (pass@1 with one sample each).

    Args:
        problems: HumanEval-format dicts with ``prompt``, ``test`` and ``entry_point``.
        completions: the generated function bodies, one per problem.
        timeout_s: wall limit per program.
        batch: run all programs in one sandboxed harness (default) or one sandbox each.

    Returns:
        One bool per problem, in order.
    """
    programs = build_programs(problems, completions)
    if not programs:
        return []
    results: list[bool] | None = None
    if batch:
        # The harness's own stdout is small, but it must hold the whole result line.
        limits = SandboxLimits(
            timeout_s=10.0 + timeout_s * len(programs),
            output_chars=max(2000, 8 * len(programs) + 100),
        )
        res = run_program(_harness_source(programs, timeout_s), limits)
        results = _parse_batch(res.stdout, len(programs))
    if results is None:
        from tgrd.codeeval.pool import evaluate_programs

        single = evaluate_programs(programs, SandboxLimits(timeout_s=timeout_s), workers=1)
        results = [r.passed for r in single]
    return results


def pass_at_1(problems: Sequence[dict], completions: Sequence[str], **kwargs) -> float:
    """Fraction of problems whose single completion passes (0.0 for no problems)."""
    passed = evaluate_code(problems, completions, **kwargs)
    return sum(passed) / len(passed) if passed else 0.0
