"""Operating-system isolation for untrusted programs: uid slots, namespaces, reaping.

The strongest containment available to a plain Python process on Linux, without extra
packages, comes from running each program under a *dedicated, unprivileged uid*:

* ``RLIMIT_NPROC`` counts processes per real uid, so it only contains a fork bomb when the
  program's uid runs nothing else. Each evaluator worker therefore claims its own uid
  (``SLOT_UID_BASE + n``) with an ``flock`` on a lock file, so concurrent evaluators never share one.
* A process with that uid cannot signal the evaluator (``os.kill(os.getppid(), 9)`` → EPERM),
  cannot read ``/proc/<pid>/environ`` of root processes, and cannot write root-owned files.
* After every program, a *reaper* — a fork that drops to the slot uid and calls
  ``kill(-1, SIGKILL)`` — kills every process that uid still owns, including children that
  called ``setsid()`` to leave the process group. The kernel walks the task list under a lock,
  so processes cannot fork their way out of it.

Namespaces (``unshare(2)`` through ctypes; ``os.unshare`` only exists from Python 3.12):
``CLONE_NEWNET`` gives the program an empty network namespace (no interfaces but a down
loopback), and ``CLONE_NEWNS`` lets us bind the scratch directory over the world-writable
directories (/tmp, /var/tmp, /dev/shm, /run/lock), so no write outside the scratch dir survives.

All of this needs root (or CAP_SYS_ADMIN + CAP_SETUID). Without it, :func:`probe` reports the
weaker mode, the sandbox falls back to a socket guard and the shared uid, and says so.

Run ``python -m tgrd.codeeval.isolation`` to print what this machine supports.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import resource
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38

# High, unnamed uids: no account on a normal system owns processes with these ids.
SLOT_UID_BASE = 61000
SLOT_COUNT = 512
# World-writable directories a dropped uid could otherwise write to. /tmp comes last: binding
# the scratch dir (which usually lives under /tmp) over /tmp hides the original path.
WRITABLE_DIRS = ("/var/tmp", "/dev/shm", "/run/lock", "/tmp")
LOCK_DIR = Path(tempfile.gettempdir()) / "tgrd-sandbox-slots"

_libc = ctypes.CDLL(None, use_errno=True)


@dataclass(frozen=True)
class Isolation:
    """What containment is active: ``uid`` is "dedicated" or "shared", ``net`` "netns" or
    "socket-guard", ``fs`` "private-tmp" or "shared-tmp", ``proc`` "hidepid" (the program
    sees only its own processes in /proc, not other users' command lines) or "shared"."""

    uid: str
    net: str
    fs: str
    proc: str = "shared"

    def as_dict(self) -> dict[str, str]:
        return {"uid": self.uid, "net": self.net, "fs": self.fs, "proc": self.proc}


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def unshare(flags: int) -> None:
    """Move the calling process into new namespaces (``unshare(2)``)."""
    _check(_libc.unshare(flags), "unshare")


def bind_mount(source: str, target: str) -> None:
    _check(_libc.mount(source.encode(), target.encode(), None, MS_BIND, None), f"bind {target}")


def blocked_ancestor(path: str) -> str | None:
    """The highest ancestor of ``path`` that other users cannot traverse (mode lacks o+x).

    A pyenv interpreter under /root (mode 700) is such a case: the dropped uid could not even
    start Python. :func:`expose` fixes that inside the program's private mount namespace.
    """
    parts = Path(path).parents
    for ancestor in reversed(parts):  # from / downwards
        if not os.stat(ancestor).st_mode & 0o001:
            return str(ancestor)
    return None


def plan_exposure(paths: list[str]) -> dict[str, list[str]]:
    """Group the paths that need exposing by their blocked ancestor, checking it can work."""
    plan: dict[str, list[str]] = {}
    for path in paths:
        mask = blocked_ancestor(path)
        if mask is None:
            continue
        below = [str(p) for p in Path(path).parents if len(str(p)) > len(mask)] + [path]
        if any(not os.stat(p).st_mode & 0o001 for p in below):
            raise PermissionError(
                f"{path} is not readable by an unprivileged uid below {mask}; "
                "install the evaluation interpreter where other users can read it"
            )
        plan.setdefault(mask, []).append(path)
    return plan


def expose(plan: dict[str, list[str]]) -> None:
    """Inside a private mount namespace: hide each blocked dir under an empty tmpfs and bind
    back only the paths the program needs (so the rest of e.g. /root stays invisible)."""
    for mask, paths in plan.items():
        fds = [os.open(p, os.O_PATH | os.O_DIRECTORY) for p in paths]
        tmpfs = _libc.mount(b"tmpfs", mask.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, b"mode=755")
        _check(tmpfs, f"tmpfs {mask}")
        for path, fd in zip(paths, fds, strict=True):
            os.makedirs(path, mode=0o755, exist_ok=True)
            bind_mount(f"/proc/self/fd/{fd}", path)
            os.close(fd)


def mount_private_proc() -> None:
    """A fresh /proc instance that shows each uid only its own processes (Linux >= 5.8)."""
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
    _check(_libc.mount(b"proc", b"/proc", b"proc", flags, b"hidepid=invisible"), "mount /proc")


def make_mounts_private() -> None:
    """Stop our bind mounts from propagating back to the host's mount namespace."""
    _check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make-rprivate /")


def no_new_privs() -> None:
    """Forbid regaining privileges through setuid binaries (su, mount, ...) after the drop."""
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")


def die_with_parent() -> None:
    """SIGKILL this process if the evaluator dies (must be set after the uid change)."""
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PDEATHSIG)")


def _probe_child(flags: int, proc: bool = False) -> bool:
    """Fork and try ``unshare(flags)`` (and a private /proc) in the child, never touching us."""
    pid = os.fork()
    if pid == 0:  # child: only syscalls, then _exit
        ok = _libc.unshare(flags) == 0
        if ok and proc:
            try:
                make_mounts_private()
                mount_private_proc()
            except OSError:
                ok = False
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


@lru_cache(maxsize=1)
def probe() -> Isolation:
    """Detect, once per process, which isolation this machine allows."""
    root = os.geteuid() == 0
    net = "netns" if root and _probe_child(CLONE_NEWNET) else "socket-guard"
    fs = "private-tmp" if root and _probe_child(CLONE_NEWNS) else "shared-tmp"
    proc = "hidepid" if fs == "private-tmp" and _probe_child(CLONE_NEWNS, proc=True) else "shared"
    return Isolation(uid="dedicated" if root else "shared", net=net, fs=fs, proc=proc)


# Keyed by pid: pool workers forked from a process that already holds a slot must claim their own.
_claimed: dict[int, tuple[int, int]] = {}


def claim_slot_uid() -> int:
    """Claim a uid no other live evaluator process uses; held until this process exits.

    Returns:
        The slot uid. Leftover processes from a crashed previous holder are reaped first.
    """
    pid = os.getpid()
    if pid in _claimed:
        return _claimed[pid][1]
    LOCK_DIR.mkdir(mode=0o700, exist_ok=True)
    for n in range(SLOT_COUNT):
        uid = SLOT_UID_BASE + n
        fd = os.open(LOCK_DIR / f"uid-{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        _claimed[pid] = (fd, uid)
        reap_uid(uid)
        _remove_stale_scratch(uid)
        return uid
    raise RuntimeError(f"all {SLOT_COUNT} sandbox uids in use (lock files in {LOCK_DIR})")


def _remove_stale_scratch(uid: int) -> None:
    """Scratch dirs a killed previous holder of this uid left in the temp dir (the sandbox
    chowns each scratch dir to its slot uid, and a slot has one holder at a time)."""
    for entry in Path(tempfile.gettempdir()).glob("tgrd-sbx-*"):
        try:
            if entry.lstat().st_uid == uid and entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
        except OSError:  # removed concurrently
            continue


def reap_uid(uid: int, *, until_gone: bool = False, deadline_s: float = 2.0) -> bool:
    """SIGKILL every process owned by ``uid`` (a fork drops to ``uid`` and calls kill(-1)).

    Args:
        uid: the slot uid; never 0.
        until_gone: keep killing until no process of ``uid`` exists, zombies included (the
            kernel delivers SIGKILL asynchronously), for at most ``deadline_s``.

    Returns:
        Whether any process was found.
    """
    if uid == 0 or os.geteuid() != 0:
        raise PermissionError("reap_uid needs root and a non-root target uid")
    pid = os.fork()
    if pid == 0:
        code = 3
        try:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            # Never reached unless the drop succeeded: kill(-1) as root would kill the machine.
            if os.getuid() == uid and os.geteuid() == uid:
                code = _kill_all_of_own_uid(until_gone, deadline_s)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code == 3:
        raise PermissionError(f"reaper could not switch to uid {uid}")
    return code == 1


def _kill_all_of_own_uid(until_gone: bool, deadline_s: float) -> int:
    """In the reaper: kill(-1); 1 if processes of our uid remain (dying ones included), else 0.

    kill(-1) itself cannot tell: it returns success whenever the system has any other process.
    """
    end = time.monotonic() + deadline_s
    while True:
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if _alone_in_uid():
            return 0
        if not until_gone or time.monotonic() > end:
            return 1
        time.sleep(0.001)


def _alone_in_uid() -> bool:
    """Whether the calling (reaper) process is the only one of its uid, zombies included.

    The kernel's per-uid process count is what RLIMIT_NPROC checks: with the limit at 2, a fork
    succeeds only while we are alone. (Cheaper than scanning /proc after every program.)
    """
    resource.setrlimit(resource.RLIMIT_NPROC, (2, 2))
    try:
        pid = os.fork()
    except BlockingIOError:
        return False
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return True


def processes_of_uid(uid: int) -> list[int]:
    """Pids of live (non-zombie) processes whose real uid is ``uid``; for checks and tests."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            status = Path(entry.path, "status").read_text()
        except OSError:  # exited while we looked
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(fields["Uid"].split()[0]) == uid and not fields["State"].strip().startswith("Z"):
            found.append(int(entry.name))
    return found


if __name__ == "__main__":
    print(probe().as_dict())
