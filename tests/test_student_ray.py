"""Student training through Ray Train: 2 gloo DDP workers, a worker killed after a checkpoint,
``FailureConfig(max_failures=1)`` restarts the group, training resumes from that checkpoint."""

from __future__ import annotations

import json

import pytest
from student_pool import SMOKE, make_run

from tgrd.cli import main
from tgrd.student.predict import StudentPredictor


@pytest.mark.integration
def test_ray_train_worker_failure_resumes_from_last_checkpoint(tmp_path, ray_session, capsys):
    run = make_run(tmp_path)
    out = tmp_path / "distill"
    rc = main(
        [
            "distill",
            "--config",
            str(SMOKE),
            "--gated",
            str(run["gated"].parent),
            "--labels",
            str(run["labels"]),
            "--out",
            str(out),
            "--engine",
            "ray",
            "student.train.epochs=1",
            "student.train.checkpoint_every=4",
            "student.train.inject_fault_at_step=6",
        ]
    )
    assert rc == 0
    printed = capsys.readouterr().out
    assert "validation: accuracy" in printed
    meta = json.loads((out / "metrics.json").read_text())["meta"]
    # 365 training examples / batch 16 = 23 batches, 11 per rank: the fault at step 6 (rank 0)
    # killed the group; the restart loaded the step-4 checkpoint and finished all 11 steps.
    assert meta["resumed_from_step"] == 4
    assert meta["steps"] == 11
    assert list((out / "ray").rglob("train_state.pt")), "checkpoints were persisted by Ray Train"
    pred = StudentPredictor(out, batch_size=8)
    probs = pred.probabilities(
        [[{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]]
    )
    assert probs.shape == (1, 3) and abs(float(probs.sum()) - 1) < 1e-5


@pytest.mark.slow
def test_deepspeed_zero2_on_ray_train_resumes(tmp_path, ray_session):
    """ZeRO-2 under 2 gloo workers: every rank writes its optimizer shard into the checkpoint."""
    pytest.importorskip("deepspeed")
    run = make_run(tmp_path)
    out = tmp_path / "distill_zero2"
    rc = main([
        "distill", "--config", str(SMOKE), "--gated", str(run["gated"]), "--labels", str(run["labels"]),
        "--out", str(out), "--engine", "ray", "student.train.epochs=1", "student.train.zero_stage=2",
        "student.train.checkpoint_every=4", "student.train.inject_fault_at_step=6",
    ])  # fmt: skip
    assert rc == 0
    meta = json.loads((out / "metrics.json").read_text())["meta"]
    assert meta["resumed_from_step"] == 4 and meta["steps"] == 11
    assert list((out / "ray").rglob("zero_pp_rank_1_*optim_states.pt")), "rank 1's shard was saved"
    probs = StudentPredictor(out).probabilities(
        [[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]]
    )
    assert probs.shape == (1, 3)
