"""The local teacher's judge (pure) and its HTTP behaviour (limits, usage) over real sockets."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
from teacher_pool import make_pool

from tgrd.records import content_hash
from tgrd.teacher.judge import LocalJudge, load_truth
from tgrd.teacher.rubric import load_rubric
from tgrd.teacher.server import LocalTeacher
from tgrd.teacher.settings import LocalTeacherConfig

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
