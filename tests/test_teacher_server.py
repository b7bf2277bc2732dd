"""The local teacher's judge (pure) and its HTTP behaviour (limits, usage) over real sockets."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from teacher_pool import make_pool

from tgrd.records import content_hash
from tgrd.teacher.judge import LocalJudge, load_truth
from tgrd.teacher.rubric import load_rubric
from tgrd.teacher.server import LocalTeacher
from tgrd.teacher.settings import LocalTeacherConfig

ROOT = Path(__file__).resolve().parents[1]

FIVE = load_rubric("5way").classes
THREE = load_rubric("3way").classes


def _msgs(answer: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": answer}]


def test_heuristics_for_unknown_instances():
    judge = LocalJudge()
    assert judge.verdict(_msgs("  "), FIVE)[0] == "EMPTY_OR_TRUNCATED"
    assert judge.verdict(_msgs("four " * 30), FIVE)[0] == "DEGENERATE"
    assert judge.verdict(_msgs("def f(:\n  return"), FIVE)[0] == "INCORRECT"
    assert judge.verdict(_msgs("4"), FIVE)[0] == "PASS"
    assert (
        judge.verdict(_msgs("  "), THREE)[0] == "INCORRECT"
    )  # structural class absent → INCORRECT


def test_truth_noise_and_bias_are_deterministic(tmp_path):
    records, truth = make_pool(600)
    path = tmp_path / "truth.parquet"
    pq.write_table(
        pa.Table.from_pylist([{"content_hash": k, "category": v} for k, v in truth.items()]), path
    )
    assert load_truth(path) == truth
    clean = LocalJudge(truth)
    noisy = LocalJudge(truth, noise=0.2, long_answer_bias=1.0, long_answer_words=40, seed=3)
    flips, biased = 0, Counter()
    for rec in records:
        want = clean.verdict(rec["messages"], FIVE)[0]
        got = noisy.verdict(rec["messages"], FIVE)[0]
        assert got == noisy.verdict(rec["messages"], FIVE)[0]  # same instance, same verdict
        cat = truth[content_hash(rec["messages"])]
        if cat == "verbose_wrong":
            biased[got] += 1
        elif got != want:
            flips += 1
    assert biased == {"PASS": 100}  # long fluent wrong answers fool the biased judge
    assert 0.12 < flips / 500 < 0.28


def _post(url: str, body: dict) -> tuple[int, dict, dict]:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), json.loads(err.read())


def test_server_limits_and_usage():
    rubric = load_rubric("3way")
    body = {
        "model": "m",
        "messages": rubric.render(_msgs("4")),
        "response_format": rubric.response_format(),
    }
    with LocalTeacher(LocalTeacherConfig(rpm=60)) as srv:  # 1 request/s, burst 2
        url = f"{srv.base_url}/chat/completions"
        codes = [_post(url, body) for _ in range(4)]
    assert [c[0] for c in codes[:2]] == [200, 200] and codes[3][0] == 429
    assert float(codes[3][1]["retry-after-ms"]) > 0
    reply = codes[0][2]
    assert json.loads(reply["choices"][0]["message"]["content"])["label"] == "PASS"
    usage = reply["usage"]
    assert 150 < usage["prompt_tokens"] < 600 and usage["completion_tokens"] > 3
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


@pytest.mark.slow  # runs sandboxed programs: ~5 s idle, much more on a shared machine
def test_checking_judge_agrees_with_synthetic_truth(tmp_path):
    """The local teacher checks synth instances (qaeval; hidden tests in the sandbox) without
    seeing the truth file, and agrees with the planted classes; with the truth file it is exact."""
    from tgrd.config import load_config
    from tgrd.ingest import read_records
    from tgrd.synth.generate import generate
    from tgrd.teacher.settings import TeacherConfig
    from tgrd.teacher.stage import label_records

    cfg = load_config(ROOT / "configs" / "synth_smoke.yaml", ["synth.pool_size=40"])
    generate(cfg.synth, tmp_path / "synth")
    table, _ = read_records([tmp_path / "synth" / "finqa" / "pool.jsonl"], cfg.ingest)
    records = table.to_pylist()
    code, _ = read_records([tmp_path / "synth" / "code" / "pool.jsonl"], cfg.ingest)
    records += code.to_pylist()[:6]  # each code verdict runs a sandboxed program: keep it short
    truth = load_truth(tmp_path / "synth" / "truth.parquet")
    want = [truth[content_hash(r["messages"])] for r in records]
    for local in (
        LocalTeacherConfig(answer_key=str(tmp_path / "synth" / "answer_key.jsonl")),
        LocalTeacherConfig(truth=str(tmp_path / "synth" / "truth.parquet")),
    ):
        with LocalTeacher(local) as srv:
            tcfg = TeacherConfig(base_url=srv.base_url, model="local-teacher", rubric="5way", rpm=None,
                                 tpm=None, cache_path=str(tmp_path / f"c{bool(local.truth)}.sqlite"))  # fmt: skip
            rows, _ = label_records(records, tcfg, progress=False)
            counts = srv.stats()["counts"]
        agree = sum(r["label"] == w for r, w in zip(rows, want, strict=True)) / len(rows)
        if local.truth:
            assert agree == 1.0
        else:
            assert counts["programs_run"] > 0 and agree >= 0.8, agree


def test_teacher_serve_cli_starts_and_stops(tmp_path):
    import os
    import subprocess
    import sys
    import time

    port_file = tmp_path / "port"
    cmd = [sys.executable, "-m", "tgrd.cli", "teacher", "serve", "--port", "0", "--port-file", str(port_file),
           "teacher.local.latency_ms=1"]  # fmt: skip
    proc = subprocess.Popen(
        cmd, env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while not port_file.exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        port = int(port_file.read_text())
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=10) as resp:
            assert json.loads(resp.read())["counts"] == {}
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0  # SIGTERM is a clean shutdown
    assert "listening on http://127.0.0.1:" in proc.stdout.read()
