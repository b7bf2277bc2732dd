"""Run one untrusted Python program in a contained child process and say how it ended.

    from tgrd.codeeval.sandbox import SandboxLimits, run_program
    result = run_program("assert 1 + 1 == 2", SandboxLimits(timeout_s=3))
    result.reason  # "passed" | "failed" | "timeout" | "crashed" | "killed-limit"

The child gets (see :mod:`tgrd.codeeval.isolation` for the why of each):
resource limits (CPU seconds, address space, file size, open files, processes, no core dumps)
set in ``preexec_fn``; a new session; a fresh scratch directory as cwd, HOME and TMPDIR; an
environment built from an allow-list (so no ``*KEY*``/``*TOKEN*``/``*SECRET*`` can leak); no
network; when we are root, a dedicated unprivileged uid, the scratch dir bound over /tmp and a
/proc that shows only its own processes; and a wall-clock timeout after which every process of
the slot uid (or, without root, the session) is killed. ``result.isolation`` says which.

stdout and stderr go to files in the scratch dir, not pipes: ``RLIMIT_FSIZE`` caps them, so a
program printing gigabytes fails with EFBIG instead of filling our memory, and we read back at
most ``output_chars`` of each.

``preexec_fn`` runs Python between fork and exec, which is unsafe in a multi-threaded parent;
parallel evaluation therefore uses single-threaded worker *processes* (:mod:`tgrd.codeeval.pool`).
"""

from __future__ import annotations

import math
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO

from tgrd.codeeval import isolation

REASONS = ("passed", "failed", "timeout", "crashed", "killed-limit")
# Messages Python prints when a resource limit, not the program's logic, stopped it.
_LIMIT_PATTERNS = re.compile(
    r"MemoryError|\[Errno 27\] File too large|\[Errno 24\] Too many open files"
    r"|\[Errno 11\] Resource temporarily unavailable"
)
_GUARD = Path(__file__).with_name("socket_guard.py")
_SAFE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}


@dataclass(frozen=True)
class SandboxLimits:
    """Per-program limits. Defaults follow HumanEval's harness (3 s) with room for a cold start."""

    timeout_s: float = 5.0  # wall clock, from spawn to exit
    cpu_s: int | None = None  # RLIMIT_CPU; default ceil(timeout_s)
    memory_mb: int = 1024  # RLIMIT_AS (address space, not RSS)
    file_size_mb: int = 16  # RLIMIT_FSIZE: any file, stdout and stderr included
    open_files: int = 64  # RLIMIT_NOFILE
    processes: int = 32  # RLIMIT_NPROC (only meaningful with a dedicated uid)
    output_chars: int = 2000  # how much stdout head / stderr tail goes into the result
    python: str = sys.executable


@dataclass
class SandboxResult:
    """How one program ended. ``reason`` is one of :data:`REASONS`."""

    reason: str
    passed: bool
    returncode: int | None
    wall_s: float
    stdout: str = ""
    stderr: str = ""
    isolation: dict[str, str] = field(default_factory=dict)
    slot_uid: int | None = None  # the uid it ran as, when isolation["uid"] == "dedicated"

    def as_dict(self) -> dict:
        return asdict(self)


def scrubbed_env(home: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Allow-listed environment; ``extra`` entries naming keys, tokens or secrets are refused."""
    env = dict(_SAFE_ENV, HOME=home, TMPDIR=home)
    for key, value in (extra or {}).items():
        if re.search(r"KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL", key, re.IGNORECASE):
            raise ValueError(f"refusing to pass secret-looking variable {key!r} to a sandbox")
        env[key] = value
    return env


def interpreter_paths(python: str) -> list[str]:
    """Directories the interpreter needs: its install prefix and, for a venv, the venv itself."""
    paths = {os.path.dirname(os.path.dirname(os.path.realpath(python)))}
    paths.add(os.path.dirname(os.path.dirname(os.path.abspath(python))))
    if os.path.realpath(python) == os.path.realpath(sys.executable):
        paths |= {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix)}
    return sorted(paths)


def _preexec(limits: SandboxLimits, iso: isolation.Isolation, uid: int | None, scratch: str):
    """Build the function the child runs between fork and exec (order matters: see comments)."""
    cpu = limits.cpu_s or math.ceil(limits.timeout_s)
    mb = 1024 * 1024
    rlimits = [
        (resource.RLIMIT_CPU, (cpu, cpu + 1)),  # SIGXCPU at soft, SIGKILL at hard
        (resource.RLIMIT_AS, (limits.memory_mb * mb,) * 2),
        (resource.RLIMIT_FSIZE, (limits.file_size_mb * mb,) * 2),
        (resource.RLIMIT_NOFILE, (limits.open_files,) * 2),
        (resource.RLIMIT_CORE, (0, 0)),
    ]
    if uid is not None:
        rlimits.append((resource.RLIMIT_NPROC, (limits.processes,) * 2))
    exposure = isolation.plan_exposure(interpreter_paths(limits.python)) if uid is not None else {}

    def setup() -> None:
        # Namespaces and mounts need root, so they come before the uid drop.
        flags = (isolation.CLONE_NEWNET if iso.net == "netns" else 0) | (
            isolation.CLONE_NEWNS if iso.fs == "private-tmp" else 0
        )
        if flags:
            isolation.unshare(flags)
        if iso.fs == "private-tmp":
            isolation.make_mounts_private()
            if iso.proc == "hidepid":
                isolation.mount_private_proc()
            isolation.expose(exposure)
            for target in isolation.WRITABLE_DIRS:
                if os.path.isdir(target):
                    isolation.bind_mount(scratch, target)
            os.chdir("/tmp")  # the scratch dir, seen through its bind mount
        os.umask(0o077)
        for which, value in rlimits:
            resource.setrlimit(which, value)
        if uid is not None:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            isolation.die_with_parent()  # the uid change clears PDEATHSIG, so set it after
        isolation.no_new_privs()

    return setup


# Outputs are read back through the descriptors we opened, never by path: the program owns
# the scratch dir and could have swapped the files for a symlink to a secret or a FIFO.
def _read_head(f: BinaryIO, n: int) -> str:
    f.seek(0)
    return f.read(n).decode("utf-8", "replace")


def _read_tail(f: BinaryIO, n: int) -> str:
    f.seek(max(0, os.fstat(f.fileno()).st_size - n))
    return f.read().decode("utf-8", "replace")


def classify(returncode: int | None, timed_out: bool, stderr_tail: str) -> str:
    """Map an exit to a reason: a limit that bit, a failed assert, or anything else (crash)."""
    if timed_out or returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        return "timeout"  # SIGKILL here is RLIMIT_CPU's hard limit: nobody else kills it
    if returncode == 0:
        return "passed"
    if returncode == -signal.SIGXFSZ or _LIMIT_PATTERNS.search(stderr_tail):
        return "killed-limit"
    last = [ln for ln in stderr_tail.strip().splitlines() if ln and not ln.startswith(" ")]
    if last and last[-1].split(":")[0].endswith("AssertionError"):
        return "failed"
    return "crashed"


def run_program(
    source: str,
    limits: SandboxLimits | None = None,
    *,
    env: dict[str, str] | None = None,
    scratch_root: str | None = None,
) -> SandboxResult:
    """Run ``source`` as ``__main__`` in a contained child and wait for it.

    Args:
        source: Python program text.
        limits: resource and time limits; defaults to :class:`SandboxLimits`.
        env: extra environment variables (secret-looking names are refused).
        scratch_root: parent of the per-program scratch dir (default: the system temp dir).

    Returns:
        A :class:`SandboxResult`; the scratch dir is removed and no process of the run survives.
    """
    limits = limits or SandboxLimits()
    iso = isolation.probe()
    uid = isolation.claim_slot_uid() if iso.uid == "dedicated" else None
    scratch = Path(tempfile.mkdtemp(prefix="tgrd-sbx-", dir=scratch_root))
    try:
        (scratch / "program.py").write_text(source)
        home = "/tmp" if iso.fs == "private-tmp" else str(scratch)
        # The resolved interpreter, not a virtualenv's symlink to it: a venv that lives under
        # /tmp (a fresh CI clone, say) vanishes inside the sandbox, whose scratch dir is bound
        # over /tmp. Programs run isolated (-I) on the standard library either way.
        python = os.path.realpath(limits.python)
        argv = [python, "-I", "program.py"]
        if iso.net == "socket-guard":
            argv = [python, "-I", str(_GUARD), "program.py"]
        if uid is not None:
            os.chown(scratch, uid, uid)
        os.chmod(scratch, 0o700)
        with open(scratch / ".stdout", "w+b") as out, open(scratch / ".stderr", "w+b") as err:
            start = time.perf_counter()
            proc = subprocess.Popen(
                argv,
                cwd=scratch,
                env=scrubbed_env(home, env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
                preexec_fn=_preexec(limits, iso, uid, str(scratch)),
            )
            timed_out = False
            try:
                proc.wait(timeout=limits.timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                _kill_everything(proc, uid)
            wall = time.perf_counter() - start
            stderr = _read_tail(err, limits.output_chars)
            stdout = _read_head(out, limits.output_chars)
        return SandboxResult(
            reason=classify(proc.returncode, timed_out, stderr),
            passed=proc.returncode == 0 and not timed_out,
            returncode=proc.returncode,
            wall_s=round(wall, 4),
            stdout=stdout,
            stderr=stderr,
            isolation=iso.as_dict(),
            slot_uid=uid,
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _kill_everything(proc: subprocess.Popen, uid: int | None) -> None:
    """Kill every process of the slot uid, or the session in the shared-uid fallback.

    The reaper also finds children that left the session with ``setsid()``; killpg cannot.
    """
    if uid is not None:
        if isolation.reap_uid(uid):  # something was still running: the program or its children
            proc.wait()
            isolation.reap_uid(uid, until_gone=True)
    else:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):  # group already gone
            pass
    proc.wait()
