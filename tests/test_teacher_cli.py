"""`tgrd label` end to end in a subprocess: ingest + gates + teacher, kill/rerun, key hygiene."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
from teacher_pool import make_pool, write_pool, write_truth

from tgrd.teacher.server import LocalTeacher
from tgrd.teacher.settings import LocalTeacherConfig

ROOT = Path(__file__).resolve().parents[1]
SECRET = "sk-test-DO-NOT-LEAK-4f9a1c"


def _label_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "tgrd.cli", "label", *args]


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), **extra)
    env.pop("OPENAI_BASE_URL", None)
    return env


def test_label_cli_with_gates_faults_and_key_hygiene(tmp_path):
    records, truth = make_pool(60)
    pool = write_pool(records, tmp_path / "pool.jsonl")
    with open(pool, "a") as f:
        f.write("{not json\n")  # quarantined by ingest, not labeled
    out = tmp_path / "out"
    local = LocalTeacherConfig(truth=str(write_truth(truth, tmp_path / "t.jsonl")), fault_rate=0.3, hang_s=1.0,
                               require_key_env="TGRD_SERVER_KEY")  # fmt: skip
    with LocalTeacher(local) as srv:
        env = _env(OPENAI_API_KEY=SECRET, TGRD_SERVER_KEY=SECRET)
        cmd = _label_cmd(str(pool), "teacher.timeout_s=0.5", "teacher.backoff_base_s=0.02", "teacher.max_retries=12",
                         "--out", str(out), "--teacher-url", srv.base_url, "--model", "local-teacher",
                         "--cache", str(tmp_path / "cache.sqlite"))  # fmt: skip
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        stats = srv.stats()
    assert stats["counts"].get("unauthorized", 0) == 0  # the key was sent
    table = pq.read_table(out / "labels.parquet").to_pylist()
    summary = json.loads((out / "summary.json").read_text())
    assert len(table) == 60 and summary["quarantined_rows"] == 1
    gate_fail = [r for r in table if r["status"] == "gate_fail"]
    labeled = [r for r in table if r["status"] == "labeled"]
    assert len(gate_fail) + len(labeled) == 60
    assert {r["gate_reason"] for r in gate_fail} >= {"empty_response"}  # never sent to the teacher
    assert len(stats["success_by_instance"]) == len(labeled)
    assert max(stats["success_by_instance"].values()) == 1
    assert {r["rubric_version"] for r in table} == {summary["rubric_version"]}
    # The API key appears nowhere: stdout, stderr, outputs, cache/ledger.
    blobs = [proc.stdout, proc.stderr] + [
        p.read_bytes().decode("latin-1") for p in tmp_path.rglob("*") if p.is_file()
    ]
    assert not any(SECRET in b for b in blobs)


def test_kill_midway_then_rerun_repays_at_most_in_flight(tmp_path):
    records, _ = make_pool(240)
    pool = write_pool(records, tmp_path / "pool.jsonl")
    concurrency = 8
    with LocalTeacher(LocalTeacherConfig(latency_ms=40)) as srv:
        cmd = _label_cmd(str(pool), f"teacher.concurrency={concurrency}", "teacher.rpm=null", "teacher.tpm=null",
                         "--out", str(tmp_path / "out"), "--teacher-url", srv.base_url,
                         "--model", "local-teacher", "--no-gates", "--cache", str(tmp_path / "cache.sqlite"))  # fmt: skip
        proc = subprocess.Popen(
            cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 60
        while srv.stats()["counts"].get("completions", 0) < 80:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        first = srv.stats()["counts"]["completions"]
        assert first < 240  # really killed mid-way
        rerun = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=120)
        assert rerun.returncode == 0, rerun.stderr
        total = srv.stats()["counts"]["completions"]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["status"]["labeled"] + summary["status"]["cached"] == 240
    assert total - 240 <= concurrency  # only the requests in flight at the kill were paid twice


def test_batch_mode_cli_round_trip(tmp_path, capsys):
    # In-process through tgrd.cli.main (the subprocess path is covered above).
    from tgrd.cli import main

    records, _ = make_pool(30)
    pool = write_pool(records, tmp_path / "pool.jsonl")
    with LocalTeacher(LocalTeacherConfig(batch_delay_s=0.2)) as srv:
        base = ["label", str(pool), "--out", str(tmp_path / "out"), "--teacher-url", srv.base_url, "--model",
                "local-teacher", "--mode", "batch", "--no-gates", "--cache", str(tmp_path / "c.sqlite"),
                "teacher.batch_poll_s=0.05", "teacher.batch_max_requests=8"]  # fmt: skip
        assert main([*base, "--no-wait"]) == 3  # submitted; batches still running
        s1 = json.loads((tmp_path / "out" / "summary.json").read_text())
        assert s1["batches_submitted"] == 4 and s1["status"] == {"pending_batch": 30}
        assert main(base) == 0
        stats = srv.stats()
    s2 = json.loads((tmp_path / "out" / "summary.json").read_text())
    # Resumed from the recorded batch ids, not resubmitted.
    assert s2["batches_submitted"] == 0 and s2["status"] == {"labeled": 30}
    assert stats["counts"]["batch_completions"] == 30 and stats["counts"].get("completions", 0) == 0
    assert s2["cost_usd"] > 0 and "not every instance" in capsys.readouterr().err
