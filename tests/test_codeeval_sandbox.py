"""The hostile battery: each attack is contained, recorded with a reason, and leaves nothing behind.

    pytest tests/test_codeeval_sandbox.py -q

Every test runs real programs in real child processes. After each one we check that no
process of the sandbox uid survives, and the last tests show the evaluator still runs correct
programs correctly, alone and in a pool mixed with the attacks.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from tgrd.codeeval import isolation
from tgrd.codeeval.pool import evaluate_programs
from tgrd.codeeval.sandbox import REASONS, SandboxLimits, classify, run_program, scrubbed_env

ISO = isolation.probe()
LIMITS = SandboxLimits(timeout_s=3.0, memory_mb=512, file_size_mb=4, open_files=64, processes=24)
needs_root = pytest.mark.skipif(ISO.uid != "dedicated", reason="uid isolation needs root")

FORK_BOMB = "import os\nwhile True:\n    os.fork()\n"
MEMORY_HOG = "chunks = []\nwhile True:\n    chunks.append(bytearray(50 * 1024 * 1024))\n"
INFINITE_LOOP = "while True:\n    pass\n"
HUGE_STDOUT = "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n"
KILL_PARENT = "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n"
OPEN_FILES = "handles = [open('/dev/null') for _ in range(10_000)]\n"
CORRECT = "def add(a, b):\n    return a + b\n\nassert add(2, 3) == 5\nprint('ok')\n"


def run(source: str, **kw) -> object:
    return run_program(source, kw.pop("limits", LIMITS), **kw)


@pytest.fixture(autouse=True)
def no_survivors():
    """After every test: no live process of this process's sandbox uid."""
    yield
    if ISO.uid == "dedicated":
        uid = isolation.claim_slot_uid()
        assert isolation.processes_of_uid(uid) == [], "sandboxed processes survived"


def test_correct_and_wrong_programs_are_told_apart():
    ok = run(CORRECT)
    assert (ok.reason, ok.passed, ok.returncode, ok.stdout) == ("passed", True, 0, "ok\n")
    wrong = run("assert 1 + 1 == 3\n")
    assert (wrong.reason, wrong.passed) == ("failed", False)
    assert "AssertionError" in wrong.stderr
    broken = run("def f(:\n")
    assert broken.reason == "crashed" and "SyntaxError" in broken.stderr


@needs_root
def test_fork_bomb_is_capped_by_nproc():
    result = run(FORK_BOMB)
    assert result.reason == "killed-limit", result.stderr[-500:]
    assert "Resource temporarily unavailable" in result.stderr


def test_memory_hog_hits_the_address_space_limit():
    result = run(MEMORY_HOG)
    assert result.reason == "killed-limit" and "MemoryError" in result.stderr


def test_infinite_loop_times_out_on_the_wall_clock():
    result = run(INFINITE_LOOP, limits=SandboxLimits(timeout_s=1.0))
    assert result.reason == "timeout" and not result.passed
    assert 1.0 <= result.wall_s < 3.0


def test_cpu_limit_stops_a_spinner_even_with_a_long_wall_timeout():
    result = run(INFINITE_LOOP, limits=SandboxLimits(timeout_s=30.0, cpu_s=1))
    assert result.reason == "timeout" and result.wall_s < 10


@needs_root
def test_busy_children_left_behind_are_killed():
    # One child in our session, one that escaped with setsid(), both spinning; the parent exits 0.
    source = (
        "import os, subprocess, sys\n"
        "spin = [sys.executable, '-c', 'while True: pass']\n"
        "a = subprocess.Popen(spin)\n"
        "b = subprocess.Popen(spin, start_new_session=True)\n"
        "print(a.pid, b.pid)\n"
    )
    result = run(source)
    assert result.reason == "passed"
    pids = [int(p) for p in result.stdout.split()]
    assert len(pids) == 2
    uid = isolation.claim_slot_uid()
    assert not set(pids) & set(isolation.processes_of_uid(uid))


def test_network_is_unreachable_even_on_loopback():
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.5)
    port = server.getsockname()[1]
    source = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
    try:
        result = run(source)
        with pytest.raises(TimeoutError):  # nothing ever connected
            server.accept()
    finally:
        server.close()
    assert result.reason == "crashed"
    expected = "Network is unreachable" if ISO.net == "netns" else "network access is disabled"
    assert expected in result.stderr
    assert result.isolation["net"] == ISO.net


def test_writes_outside_the_scratch_dir_do_not_land(tmp_path):
    name = f"tgrd-escape-{uuid.uuid4().hex}"
    targets = [f"/tmp/{name}", f"/var/tmp/{name}", str(Path.cwd() / name), str(tmp_path / name)]
    source = (
        "import sys\n"
        f"for path in {targets!r}:\n"
        "    try:\n"
        "        open(path, 'w').write('pwned')\n"
        "        print('wrote', path)\n"
        "    except OSError as exc:\n"
        "        print('refused', path, type(exc).__name__)\n"
    )
    result = run(source)
    assert result.reason == "passed", result.stderr
    assert not [t for t in targets if os.path.exists(t)]
    if ISO.uid == "dedicated":  # root-owned dirs refuse; /tmp writes land in the private /tmp
        assert f"refused {Path.cwd() / name}" in result.stdout


def test_secrets_in_our_environment_do_not_reach_the_program(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-tgrd-test-not-a-real-key")
    monkeypatch.setenv("HF_TOKEN", "hf-tgrd-test-token")
    source = (
        "import os\n"
        "print(sorted(os.environ))\n"
        "print(os.environ.get('OPENAI_API_KEY'))\n"
        "try:\n"
        "    print(open(f'/proc/{os.getppid()}/environ').read())\n"
        "except OSError as exc:\n"
        "    print('environ refused', type(exc).__name__)\n"
    )
    result = run(source)
    assert result.reason == "passed"
    assert "sk-tgrd-test" not in result.stdout and "hf-tgrd-test" not in result.stdout
    assert "OPENAI_API_KEY" not in result.stdout
    if ISO.uid == "dedicated":
        assert "environ refused" in result.stdout
    with pytest.raises(ValueError, match="MY_SECRET"):
        scrubbed_env("/tmp", {"MY_SECRET": "x"})


@pytest.mark.skipif(ISO.proc != "hidepid", reason="needs a private /proc mount")
def test_other_processes_are_invisible_in_proc():
    source = "import os\nprint(*[p for p in os.listdir('/proc') if p.isdigit()])\n"
    seen = [int(p) for p in run(source).stdout.split()]  # the program's own pids only
    assert os.getpid() not in seen and 1 not in seen and len(seen) <= 2


@needs_root
def test_killing_the_parent_is_refused():
    result = run(KILL_PARENT)
    assert result.reason == "crashed" and "PermissionError" in result.stderr
    # (Had it worked, this test process would be dead.)


def test_huge_stdout_is_capped_without_buffering_it():
    result = run(
        HUGE_STDOUT, limits=SandboxLimits(timeout_s=5.0, file_size_mb=2, output_chars=1000)
    )
    assert result.reason == "killed-limit"
    assert len(result.stdout) == 1000 and set(result.stdout) == {"x"}
    assert "File too large" in result.stderr


def test_swapping_output_files_for_links_leaks_nothing(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("TOPSECRET")
    secret.chmod(0o600)
    source = (
        "import os, sys\n"
        "print('mine', file=sys.stderr)\n"
        f"os.remove('.stderr'); os.symlink({str(secret)!r}, '.stderr')\n"
        "os.remove('.stdout'); os.mkfifo('.stdout')\n"
    )
    result = run(source)  # had we reopened .stdout by path, we would block on the FIFO
    assert result.reason == "passed", result.stderr
    assert "TOPSECRET" not in result.stderr and result.stderr == "mine\n"


def test_open_file_hog_hits_the_descriptor_limit():
    result = run(OPEN_FILES)
    assert result.reason == "killed-limit" and "Too many open files" in result.stderr


def test_classify_maps_signals_and_tracebacks():
    assert classify(0, False, "") == "passed"
    assert classify(-9, False, "") == "timeout"
    assert classify(None, True, "") == "timeout"
    assert classify(-25, False, "") == "killed-limit"  # SIGXFSZ
    assert classify(-11, False, "") == "crashed"  # SIGSEGV
    assert classify(1, False, "Traceback ...\n  File x\nAssertionError: bad\n") == "failed"
    assert classify(1, False, "Traceback ...\n  File x\nNameError: y\n") == "crashed"


def test_evaluator_is_still_correct_after_the_battery_in_a_pool():
    hostile = [FORK_BOMB, MEMORY_HOG, INFINITE_LOOP, KILL_PARENT, HUGE_STDOUT, OPEN_FILES]
    programs = []
    for attack in hostile:
        programs += [attack, CORRECT, "assert False\n"]
    limits = SandboxLimits(timeout_s=2.0, memory_mb=512, file_size_mb=2, processes=24)
    results = evaluate_programs(programs, limits, workers=2, chunk_size=2)
    reasons = [r.reason for r in results]
    assert reasons[1::3] == ["passed"] * len(hostile)
    assert reasons[2::3] == ["failed"] * len(hostile)
    expected = {
        INFINITE_LOOP: {"timeout"},
        MEMORY_HOG: {"killed-limit"},
        HUGE_STDOUT: {"killed-limit"},
        OPEN_FILES: {"killed-limit"},
    }
    if ISO.uid == "dedicated":
        expected |= {FORK_BOMB: {"killed-limit"}, KILL_PARENT: {"crashed"}}
    for attack, result in zip(programs[0::3], results[0::3], strict=True):
        assert result.reason in expected.get(attack, set(REASONS)), (attack, result.stderr)
    # Every worker's uid is empty afterwards, and the evaluator still runs programs correctly.
    for uid in {r.slot_uid for r in results} - {None}:
        assert isolation.processes_of_uid(uid) == [], uid
    assert run(CORRECT).passed


@needs_root
def test_slot_uids_are_private_to_each_process():
    uid = isolation.claim_slot_uid()
    assert uid >= isolation.SLOT_UID_BASE and isolation.claim_slot_uid() == uid
    # A second evaluator process claims a different uid while we hold ours.
    code = "from tgrd.codeeval import isolation; print(isolation.claim_slot_uid())"
    other = os.popen(f"{sys.executable} -c '{code}'").read().strip()
    assert int(other) != uid


def _gone(pid: int, within_s: float = 3.0) -> bool:
    end = time.monotonic() + within_s
    while time.monotonic() < end:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


def test_fallback_without_privileges_still_guards_sockets_and_kills_the_session(monkeypatch):
    """The mode used when not root: shared uid, socket guard, process-group kill."""
    weak = isolation.Isolation(uid="shared", net="socket-guard", fs="shared-tmp", proc="shared")
    monkeypatch.setattr(isolation, "probe", lambda: weak)
    ok = run(CORRECT)
    assert ok.passed and ok.isolation == weak.as_dict()
    net = run("import socket\nsocket.socket()\n")
    assert net.reason == "crashed" and "network access is disabled" in net.stderr
    spinner = (
        "import subprocess, sys\n"
        "child = subprocess.Popen([sys.executable, '-c', 'while True: pass'])\n"
        "print(child.pid, flush=True)\n"
        "while True:\n    pass\n"
    )
    result = run(spinner, limits=SandboxLimits(timeout_s=1.0))
    assert result.reason == "timeout"
    assert _gone(int(result.stdout.split()[0]))


@needs_root
def test_stale_scratch_dirs_of_a_killed_holder_are_removed():
    uid = isolation.SLOT_UID_BASE + isolation.SLOT_COUNT - 1  # a slot no test holds
    stale = Path(tempfile.mkdtemp(prefix="tgrd-sbx-"))
    ours = Path(tempfile.mkdtemp(prefix="tgrd-sbx-"))  # root-owned: not that slot's
    os.chown(stale, uid, uid)
    isolation._remove_stale_scratch(uid)
    assert not stale.exists() and ours.is_dir()
    ours.rmdir()
