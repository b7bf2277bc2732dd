"""Tests of the real-data adapters (tgrd/adapters) on the files in ../shared/data.

.venv/bin/pytest tests/test_adapters.py -x -q
"""

from __future__ import annotations

import gzip
import json

import pytest

from tgrd.adapters.gsm8k import gsm8k_benchmark, gsm8k_model_solution_records, gsm8k_records
from tgrd.adapters.humaneval import load_problems, problem_records
from tgrd.adapters.io import read_jsonl, write_jsonl
from tgrd.adapters.tatqa import tatqa_examples
from tgrd.qaeval import score_item
from tgrd.records import to_canonical


def _canonical_roundtrip(records: list[dict]) -> None:
    for rec in records:
        [back] = to_canonical(json.loads(json.dumps(rec)))
        assert (
            back["id"] == rec["id"]
            and back["messages"] == rec["messages"]
            and back["task"] == rec["task"]
        )


def test_gsm8k_train_and_test(shared_data) -> None:
    train = gsm8k_records(shared_data / "gsm8k" / "train.jsonl")
    test = gsm8k_benchmark(shared_data / "gsm8k" / "test.jsonl")
    assert (len(train), len(test)) == (7473, 1319)
    assert train[0]["id"] == "gsm8k-train-0" and train[0]["meta"]["final_answer"] == 72.0
    assert len({r["id"] for r in train}) == len(train)
    _canonical_roundtrip(train[:200])
    # A reference solution answers its own benchmark item; another item's does not.
    recs = gsm8k_records(shared_data / "gsm8k" / "test.jsonl")
    assert all(
        score_item(it, r["messages"][1]["content"]) for it, r in zip(test, recs, strict=True)
    )
    assert not score_item(test[0], recs[1]["messages"][1]["content"])


def test_gsm8k_model_solutions(shared_data) -> None:
    recs = gsm8k_model_solution_records(shared_data / "gsm8k" / "example_model_solutions.jsonl")
    assert len(recs) == 4 * 1319
    by_model: dict[str, list[bool]] = {}
    for r in recs:
        by_model.setdefault(r["meta"]["model"], []).append(r["meta"]["is_correct"])
    rates = {m: round(sum(v) / len(v), 3) for m, v in by_model.items()}
    # MANIFEST.md: accuracy 21.7 % / 39.0 % / 34.7 % / 56.3 % (6B/175B finetuning/verification order varies)
    assert sorted(rates.values()) == [0.217, 0.347, 0.39, 0.563]
    _canonical_roundtrip(recs[:100])


def test_humaneval_and_mbpp_problems(shared_data) -> None:
    he = load_problems(shared_data / "humaneval" / "HumanEval.jsonl.gz")
    mbpp = load_problems(shared_data / "mbpp_codet" / "mbpp_sanitized_for_code_generation.jsonl")
    assert (len(he), len(mbpp)) == (164, 427)
    for p in he + mbpp:
        assert {
            "task_id",
            "prompt",
            "entry_point",
            "test",
            "canonical_solution",
            "messages",
        } <= set(p)
        assert "def check(candidate)" in p["test"] and p["messages"][0]["content"] == p["prompt"]
    recs = problem_records(he)
    assert (
        recs[0]["id"] == "HumanEval/0"
        and recs[0]["messages"][1]["content"] == he[0]["canonical_solution"]
    )
    _canonical_roundtrip(recs + problem_records(mbpp))


def test_problems_without_solutions_are_refused(shared_data) -> None:
    contests = load_problems(
        shared_data / "codet_samples" / "CodeContests_zeroshot_for_test_case_generation.jsonl"
    )
    assert len(contests) == 165
    with pytest.raises(ValueError, match="CodeContests/0: no canonical_solution"):
        problem_records(contests)


def test_tatqa_records_and_items(shared_data) -> None:
    records, items = tatqa_examples(shared_data / "tatqa" / "tatqa_dataset_dev.json")
    assert len(records) == len(items) == 1668
    _canonical_roundtrip(records[:200])
    first = records[0]["messages"][0]["content"]
    assert first.startswith("|  |  | Years Ended September 30,") and "Question:" in first
    types = {it["answer_type"] for it in items}
    assert types == {"span", "multi-span", "arithmetic", "count"}
    # Gold responses grade as correct against their own items, and not against a neighbour's.
    assert all(
        score_item(it, r["messages"][1]["content"]) for it, r in zip(items, records, strict=True)
    )
    arith = [i for i, it in enumerate(items) if it["answer_type"] == "arithmetic"]
    wrong = sum(
        score_item(items[a], records[b]["messages"][1]["content"])
        for a, b in zip(arith, arith[1:], strict=False)
    )
    assert wrong < 0.05 * len(arith)


def test_io_errors_name_file_and_line(tmp_path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q", "answer": "#### 1"}\n{oops\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2: invalid JSON"):
        read_jsonl(bad)
    missing = tmp_path / "missing.jsonl"
    missing.write_text('{"question": "q"}\n')
    with pytest.raises(ValueError, match=r"missing.jsonl:1: missing key 'answer'"):
        gsm8k_records(missing)
    noref = tmp_path / "noref.jsonl"
    noref.write_text('{"question": "q", "answer": "42"}\n')
    with pytest.raises(ValueError, match="no '#### N'"):
        gsm8k_records(noref)
    gz = tmp_path / "x.jsonl.gz"
    with gzip.open(gz, "wt") as fh:
        fh.write('{"a": 1}\n')
    assert read_jsonl(gz) == [{"a": 1}]
    assert write_jsonl(tmp_path / "o" / "y.jsonl", [{"b": 2}]) == 1


@pytest.mark.parametrize(
    ("source", "path", "n_records", "n_items"),
    [
        ("gsm8k", "gsm8k/test.jsonl", 1319, 1319),
        ("gsm8k-solutions", "gsm8k/example_model_solutions.jsonl", 5276, None),
        ("humaneval", "mbpp_codet/mbpp_sanitized_for_code_generation.jsonl", 427, 427),
        ("tatqa", "tatqa/tatqa_dataset_test_gold.json", 1663, 1663),
    ],
)
def test_adapt_cli(
    shared_data, tmp_path, source: str, path: str, n_records: int, n_items: int | None
) -> None:
    from tgrd.cli import main

    assert main(["adapt", source, str(shared_data / path), "--out", str(tmp_path)]) == 0
    assert len(read_jsonl(tmp_path / "records.jsonl")) == n_records
    bench = tmp_path / "benchmark.jsonl"
    assert (len(read_jsonl(bench)) if bench.exists() else None) == n_items


def test_adapt_cli_errors(tmp_path, capsys) -> None:
    from tgrd.cli import main

    assert main(["adapt", "gsm8k", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path)]) == 2
    assert "nope.jsonl: no such file" in capsys.readouterr().err
