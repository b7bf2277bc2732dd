"""TeacherClient against the real local teacher over HTTP with the real openai client."""

from __future__ import annotations

from collections import Counter

import pytest
from teacher_pool import make_pool, write_truth

from tgrd.teacher.cache import LabelCache
from tgrd.teacher.client import TeacherClient
from tgrd.teacher.server import LocalTeacher
from tgrd.teacher.settings import LocalTeacherConfig, TeacherConfig
from tgrd.teacher.stage import label_records


def _cfg(srv: LocalTeacher, tmp_path, **kw) -> TeacherConfig:
    base = dict(base_url=srv.base_url, model="local-teacher", rubric="5way", cache_path=str(tmp_path / "c.sqlite"),
                timeout_s=0.5, backoff_base_s=0.02, backoff_max_s=0.5, rpm=None, tpm=None, concurrency=32)  # fmt: skip
    base.update(kw)
    return TeacherConfig(**base)


def test_faults_label_every_instance_exactly_once(tmp_path):
    records, truth = make_pool(300)
    local = LocalTeacherConfig(truth=str(write_truth(truth, tmp_path / "truth.jsonl")), fault_rate=0.3,
                               hang_s=1.0, latency_ms=2, seed=1)  # fmt: skip
    with LocalTeacher(local) as srv:
        rows, summary = label_records(records, _cfg(srv, tmp_path, max_retries=12), progress=False)
        stats = srv.stats()
        # Every instance is labeled, once, in order; the server delivered one completion each.
        assert [r["id"] for r in rows] == [r["id"] for r in records]
        assert Counter(r["status"] for r in rows) == {"labeled": 300}
        assert len(stats["success_by_instance"]) == 300
        assert max(stats["success_by_instance"].values()) == 1
        faults = sum(v for k, v in stats["counts"].items() if k.startswith("fault:"))
        assert faults >= 60 and summary["retries"] >= faults - 5  # hangs may still be in flight
        assert set(summary["retries_by_reason"]) >= {
            "rate_limited",
            "http_500",
            "timeout",
            "malformed_body",
        }
        # Verdicts follow the planted categories (no noise configured).
        by_cat = {truth_cat: Counter() for truth_cat in set(truth.values())}
        for row in rows:
            by_cat[truth[row["instance_hash"]]][row["label"]] += 1
        assert by_cat["clean"] == {"PASS": 50} and by_cat["empty"] == {"EMPTY_OR_TRUNCATED": 50}
        # A rerun is served from the cache: no request reaches the server.
        before = stats["counts"]["requests"]
        rows2, summary2 = label_records(records, _cfg(srv, tmp_path), progress=False)
        assert Counter(r["status"] for r in rows2) == {"cached": 300}
        assert [r["label"] for r in rows2] == [r["label"] for r in rows]
        assert srv.stats()["counts"]["requests"] == before and summary2["cost_usd"] == 0


def test_unparseable_labels_are_failures_not_defaults(tmp_path):
    records, _ = make_pool(12)
    with LocalTeacher(LocalTeacherConfig(garbage_labels=True)) as srv:
        cfg = _cfg(srv, tmp_path, max_label_attempts=2)
        rows, summary = label_records(records, cfg, progress=False)
    assert all(r["status"] == "failed" and r["label"] is None for r in rows)
    assert {r["failure_reason"] for r in rows} == {"unparseable_label:no_label"}
    assert all(r["attempts"] == 2 for r in rows)  # retried, then recorded
    assert summary["failures_by_reason"] == {"unparseable_label:no_label": 12}
    assert summary["cost_usd"] > 0  # paid replies are in the ledger even without a label
    cache = LabelCache(cfg.cache_path)
    assert cache.db.execute("SELECT COUNT(*) FROM labels").fetchone()[0] == 0


def test_prose_replies_use_fallback_parser(tmp_path):
    records, _ = make_pool(10)
    with LocalTeacher(LocalTeacherConfig(structured=False)) as srv:
        rows, _ = label_records(records, _cfg(srv, tmp_path, rubric="3way"), progress=False)
    assert all(r["status"] == "labeled" for r in rows)
    assert {r["label"] for r in rows} <= {"PASS", "INCORRECT", "TASK_MISMATCH"}


def test_budget_stops_cleanly_and_rerun_finishes(tmp_path):
    records, _ = make_pool(60)
    with LocalTeacher(LocalTeacherConfig()) as srv:
        cfg = _cfg(srv, tmp_path, budget_usd=0.02, concurrency=4)
        done: set[str] = set()
        for _ in range(20):
            rows, summary = label_records(records, cfg, progress=False)
            assert summary["cost_usd"] <= cfg.budget_usd  # never exceeded
            done |= {r["id"] for r in rows if r["status"] in ("labeled", "cached")}
            if summary["complete"]:
                break
            assert summary["stopped_by_budget"]
            assert {r["failure_reason"] for r in rows if r["status"] == "budget"} == {
                "budget_exhausted"
            }
        assert summary["complete"] and len(done) == 60
        succ = srv.stats()["success_by_instance"]
        assert len(succ) == 60 and max(succ.values()) == 1  # budget stops never cost a second label


def test_wrong_key_is_a_recorded_failure(tmp_path, monkeypatch):
    monkeypatch.setenv("TGRD_TEST_SERVER_KEY", "sk-right")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong")
    records, _ = make_pool(3)
    with LocalTeacher(LocalTeacherConfig(require_key_env="TGRD_TEST_SERVER_KEY")) as srv:
        rows, summary = label_records(records, _cfg(srv, tmp_path), progress=False)
    assert summary["failures_by_reason"] == {"http_401": 3}


def test_structured_output_unsupported_falls_back(tmp_path):
    # A server that answers 400 to response_format: the client drops it and parses prose.
    records, _ = make_pool(4)
    with LocalTeacher(LocalTeacherConfig(reject_response_format=True)) as srv:
        rows, summary = label_records(records, _cfg(srv, tmp_path, rubric="3way"), progress=False)
        assert srv.stats()["counts"]["rejected_response_format"] >= 1
    assert all(r["status"] == "labeled" for r in rows)
    assert summary["retries_by_reason"]["structured_output_unsupported"] >= 1


@pytest.mark.parametrize("missing", [True])
def test_remote_endpoint_requires_key(tmp_path, monkeypatch, missing):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    cfg = TeacherConfig(
        base_url="https://api.example.com/v1", cache_path=str(tmp_path / "c.sqlite")
    )
    with pytest.raises(ValueError, match=r"\$OPENAI_API_KEY is not set"):
        TeacherClient(cfg)
