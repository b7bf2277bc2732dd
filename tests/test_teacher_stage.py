"""The Ray Data labeling stage (real local Ray) and the teacher-based verifiers."""

from __future__ import annotations

from collections import Counter

from teacher_pool import make_pool, write_truth

from tgrd.config import Config
from tgrd.teacher.server import LocalTeacher
from tgrd.teacher.settings import LocalTeacherConfig, TeacherConfig
from tgrd.teacher.stage import label_records, label_with_ray
from tgrd.teacher.verifiers import dataset_value_score, run_verifier


def test_ray_stage_labels_gate_passing_records(ray_session, tmp_path):
    records, truth = make_pool(60)
    for i, rec in enumerate(records):
        if i % 6 == 0:
            rec["gate_pass"], rec["gate_reason"] = False, "empty_response"
    # Faults without hangs here (the client tests cover timeouts): Ray's fixed cost dominates.
    no_hang = {"429": 1.0, "500": 1.0, "truncated": 1.0, "malformed": 1.0}
    local = LocalTeacherConfig(truth=str(write_truth(truth, tmp_path / "t.jsonl")), fault_rate=0.2,
                               fault_weights=no_hang)  # fmt: skip
    with LocalTeacher(local) as srv:
        cfg = TeacherConfig(base_url=srv.base_url, model="local-teacher", rubric="5way", timeout_s=0.5,
                            backoff_base_s=0.02, cache_path=str(tmp_path / "c.sqlite"), actors=2, batch_size=10,
                            rpm=60_000, tpm=None, max_retries=12)  # fmt: skip
        rows, summary = label_with_ray(records, cfg, progress=False)
        succ = srv.stats()["success_by_instance"]
    assert [r["id"] for r in rows] == [r["id"] for r in records]
    assert Counter(r["status"] for r in rows) == {"labeled": 50, "gate_fail": 10}
    assert len(succ) == 50 and max(succ.values()) == 1  # gate failures never reached the teacher
    assert summary["requests"] >= 50 and summary["retries"] > 0 and summary["cost_usd"] > 0
    # The two actors shared the cache: a local rerun is fully cached.
    rows2, _ = label_records(records, cfg, progress=False)
    assert Counter(r["status"] for r in rows2) == {"cached": 50, "gate_fail": 10}


def test_dataset_value_score_counts_failures_separately():
    rows = [
        {"status": "labeled", "label": "PASS"},
        {"status": "cached", "label": "INCORRECT"},
        {"status": "gate_fail", "label": None},
        {"status": "failed", "label": None},
    ]
    out = dataset_value_score(rows, {"PASS": 1.0, "INCORRECT": 0.0}, gate_fail_score=0.0)
    assert out == {
        "dvs": 1 / 3,
        "m": 4,
        "scored": 3,
        "unlabeled": 1,
        "class_counts": {"GATE_FAIL": 1, "INCORRECT": 1, "PASS": 1},
    }


def test_verifiers_rank_clean_above_dirty(tmp_path):
    clean, truth_a = make_pool(60, seed=1)
    dirty, truth_b = make_pool(60, seed=2)
    clean = [
        r
        for r, cat in zip(clean, [truth_a[k] for k in truth_a], strict=True)
        if cat in ("clean", "incorrect")
    ]
    local = LocalTeacherConfig(truth=str(write_truth({**truth_a, **truth_b}, tmp_path / "t.jsonl")))
    with LocalTeacher(local) as srv:
        cfg = Config(teacher=TeacherConfig(base_url=srv.base_url, model="local-teacher",
                                           cache_path=str(tmp_path / "c.sqlite"), rpm=None, tpm=None))  # fmt: skip
        llm = run_verifier({"clean": clean, "dirty": dirty}, "llm-only", cfg, m=16)
        tool = run_verifier({"clean": clean, "dirty": dirty}, "tool+llm", cfg, m=16)
    assert llm["clean"]["dvs"] > llm["dirty"]["dvs"]
    assert tool["clean"]["dvs"] > tool["dirty"]["dvs"]
    assert llm["clean"]["m"] == 16 and llm["clean"]["unlabeled"] == 0
    # tool+llm sends only gate-passing instances to the teacher: fewer tokens on dirty data.
    assert tool["dirty"]["teacher_tokens"] < llm["dirty"]["teacher_tokens"]
