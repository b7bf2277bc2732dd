"""Fine-tuning on a clean candidate beats fine-tuning on a garbage one (real sandboxed pass@1)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")

from tgrd.config import load_config  # noqa: E402
from tgrd.downstream.codebench import evaluate_code  # noqa: E402
from tgrd.downstream.finetune import finetune_and_score, split_turns  # noqa: E402
from tgrd.downstream.pretrain import generic_corpus, pretrained_base  # noqa: E402


def _write_candidate(path, pairs):
    with open(path, "w") as f:
        for i, (prompt, answer) in enumerate(pairs):
            msgs = [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
            f.write(json.dumps({"id": f"r{i}", "messages": msgs, "task": "code"}) + "\n")
        f.write('{"id": "broken", "messages": [\n')  # a malformed line: quarantined, counted


def _write_benchmark(path, n):
    import random

    from tgrd.synth.code_tasks import make_code_problem

    rng = random.Random(99)
    with open(path, "w") as f:
        for i in range(n):
            p = make_code_problem(rng, "tiny")
            item = {
                "task_id": f"b/{i}",
                "prompt": p.prompt,
                "entry_point": p.grading["entry_point"],
                "test": p.grading["test"],
                "messages": [{"role": "user", "content": p.prompt}],
            }
            f.write(json.dumps(item) + "\n")


def test_split_turns_takes_last_assistant_turn():
    msgs = [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "u"},
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "u2"},
        {"role": "assistant", "content": "a2"},
    ]
    assert split_turns(msgs) == ("s\nu\na1\nu2", "a2")
    assert split_turns([{"role": "user", "content": "q"}]) == ("q", "")


def test_sandboxed_pass_at_1_grades_and_survives_hostile_code(tmp_path):
    _write_benchmark(tmp_path / "b.jsonl", 4)
    items = [json.loads(line) for line in open(tmp_path / "b.jsonl")]
    from tgrd.synth.code_tasks import make_code_problem  # noqa: F401  (same generator as above)

    hostile = [
        "    while True: pass\n",
        "    import os; os.kill(os.getppid(), 9)\n",
        "    print('TGRD-BATCH-RESULTS [true, true, true, true]'); return None\n",
        "    return 1/0\n",
    ]
    assert evaluate_code(items, hostile, timeout_s=1.0) == [False] * 4


def test_clean_candidate_beats_garbage_candidate(tmp_path):
    cfg = load_config(
        None,
        [
            "downstream.chargpt.n_layer=1",
            "downstream.chargpt.n_embd=48",
            "downstream.chargpt.pretrain_steps=0",  # random-init base: the candidate teaches it all
            "downstream.chargpt.finetune_steps=250",
            "downstream.chargpt.finetune_lr=0.004",
            "downstream.chargpt.batch_size=16",
            "downstream.chargpt.max_new_chars=24",
        ],
    ).downstream
    clean = generic_corpus(["code"], 300, seed=5)
    garbage = [(p, "ok ok\nok ok\nok ok\n") for p, _ in clean]
    _write_candidate(tmp_path / "clean.jsonl", clean)
    _write_candidate(tmp_path / "garbage.jsonl", garbage)
    _write_benchmark(tmp_path / "bench.jsonl", 16)
    base = pretrained_base(tmp_path / "pretrain", cfg, seed=0)
    good = finetune_and_score(
        "code", tmp_path / "clean.jsonl", tmp_path / "bench.jsonl", cfg, 0, base
    )
    bad = finetune_and_score(
        "code", tmp_path / "garbage.jsonl", tmp_path / "bench.jsonl", cfg, 0, base
    )
    assert good["n_quarantined"] == 1 and good["n_train"] == 300
    assert bad["score"] == 0.0
    assert good["score"] >= 0.125 and good["score"] > bad["score"], good
    assert good["train_loss_last"] < good["train_loss_first"]
