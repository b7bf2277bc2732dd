"""HumanEval conventions on real data: file layouts, canonical solutions, the CLI, pass@k runs.

pytest tests/test_codeeval_humaneval.py -q            # default: all 164 HumanEval canonicals
pytest tests/test_codeeval_humaneval.py -q -m slow    # MBPP canonicals, 16.4k CodeGen samples
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tgrd.codeeval.humaneval import evaluate_files
from tgrd.codeeval.problems import (
    CODEX_STOP,
    build_program,
    load_problems,
    load_samples,
    truncate_at_stop,
)
from tgrd.codeeval.sandbox import SandboxLimits
from tgrd.commands import evalcode

HUMANEVAL = "humaneval/HumanEval.jsonl.gz"
MBPP = "mbpp_codet/mbpp_sanitized_for_code_generation.jsonl"
CODEGEN = "codet_samples/HumanEval_codegen16B_temp0.8_topp0.95_num100_max300_code_solution.jsonl"
# MBPP rows that cannot pass as distributed by CodeT: the tests call math.* but MBPP's
# `test_imports` were not carried over, and task 56's solution defines `check`, which the test's
# own `check` replaces (infinite recursion).
MBPP_BROKEN = {56, 98, 124, 137, 139, 163, 233, 246, 248, 276, 300}


def write_jsonl(path: Path, rows: list[dict], gz: bool = False) -> Path:
    text = "".join(json.dumps(r) + "\n" for r in rows)
    if gz:
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)
    return path


@pytest.fixture
def tiny_problems(tmp_path) -> Path:
    rows = [
        {
            "task_id": "T/0",
            "prompt": "def add(a, b):\n    '''Add two numbers.\n    >>> add(1, 2)\n    3\n    '''\n",
            "entry_point": "add",
            "test": "def check(candidate):\n    assert candidate(2, 3) == 5\n",
            "canonical_solution": "    return a + b\n",
        },
        {
            "task_id": "T/1",
            "prompt": "def neg(x):\n",
            "entry_point": "neg",
            "test": "def check(candidate):\n    assert candidate(4) == -4\n",
            "canonical_solution": "    return -x\n",
        },
    ]
    return write_jsonl(tmp_path / "problems.jsonl.gz", rows, gz=True)


def test_build_program_is_humaneval_concatenation():
    problem = {"prompt": "P\n", "test": "T\n", "entry_point": "f"}
    assert build_program(problem, "C\n") == "P\nC\n\nT\n\ncheck(f)\n"
    assert build_program(problem, "C\n", prompt="Q\n").startswith("Q\nC\n")


def test_truncate_at_codex_stop_sequences():
    body = "    return 1\n"
    assert (
        truncate_at_stop(body + "\n\nif __name__ == '__main__':\n    x()", CODEX_STOP)
        == body + "\n"
    )
    assert truncate_at_stop(body + "\ndef g():\n#\n", CODEX_STOP) == body
    assert truncate_at_stop(body, CODEX_STOP) == body


def test_bad_files_name_file_and_line(tmp_path, tiny_problems):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task_id": "X", "prompt": "p"}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:1: problem lacks .*entry_point"):
        load_problems(bad)
    bad.write_text('\n{"task_id": "T/0", "completion": "x"}\n{not json\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:3: invalid JSON"):
        load_samples(bad, load_problems(tiny_problems))
    bad.write_text('{"task_id": "T/9", "completion": "x"}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:1: unknown task_id 'T/9'"):
        load_samples(bad, load_problems(tiny_problems))
    bad.write_text('{"task_id": "T/0", "text": "x"}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:1: need task_id\+completion"):
        load_samples(bad, load_problems(tiny_problems))


def test_codet_layout_matches_prompts_without_examples(tmp_path, tiny_problems):
    problems = load_problems(tiny_problems)
    stripped = (
        "def add(a, b):\n    '''Add two numbers.\n    '''\n"  # examples removed, as CodeT does
    )
    path = write_jsonl(
        tmp_path / "codet.jsonl",
        [{"prompt": stripped, "samples": ["    return a + b\n", "    return a - b\n"]}],
    )
    samples = load_samples(path, problems)
    assert [(s.task_id, s.index, s.prompt) for s in samples] == [
        ("T/0", 0, stripped),
        ("T/0", 1, stripped),
    ]


def test_evaluate_files_writes_results_and_is_idempotent(tmp_path, tiny_problems):
    samples = write_jsonl(
        tmp_path / "samples.jsonl",
        [
            {"task_id": "T/0", "completion": "    return a + b\n"},
            {"task_id": "T/0", "completion": "    return a * b\n"},
            {"task_id": "T/1", "completion": "    while True:\n        pass\n"},
            {"task_id": "T/1", "completion": "    return -x\n"},
        ],
    )
    out = tmp_path / "out"
    limits = SandboxLimits(timeout_s=1.5)
    summary = evaluate_files(tiny_problems, samples, out, ks=(1, 2, 5), limits=limits, workers=2)
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["reason"] for r in rows] == ["passed", "failed", "timeout", "passed"]
    assert pq.read_table(out / "results.parquet").num_rows == 4
    assert summary["pass_at_k"] == {"pass@1": 0.5, "pass@2": 1.0, "pass@5": None}
    assert summary["reasons"]["timeout"] == 1 and summary["n_samples"] == 4
    assert json.loads((out / "summary.json").read_text())["fingerprint"] == summary["fingerprint"]
    again = evaluate_files(tiny_problems, samples, out, ks=(1, 2, 5), limits=limits, workers=2)
    assert again == summary  # same inputs: a no-op returning the stored summary


def test_evalcode_is_registered():
    from tgrd.cli import COMMANDS

    assert COMMANDS["evalcode"] == "tgrd.commands.evalcode"


def test_evalcode_command(tmp_path, tiny_problems, capsys):
    parser = argparse.ArgumentParser()
    evalcode.add_arguments(parser)
    args = parser.parse_args(
        ["--problems", str(tiny_problems), "--samples", "canonical", "--out", str(tmp_path / "o")]
        + ["--k", "1", "--workers", "1", "--timeout", "3"]
    )
    assert evalcode.run(args) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["pass_at_k"] == {"pass@1": 1.0} and printed["n_samples"] == 2
    with pytest.raises(SystemExit):
        parser.parse_args(["--problems", "p", "--samples", "s", "--out", "o", "--k", "0,x"])


def test_humaneval_canonical_solutions_subset_pass(shared_data, tmp_path):
    """Every 4th HumanEval problem (41): the default suite's fast stand-in for all 164."""
    problems = list(load_problems(shared_data / HUMANEVAL).values())[::4]
    subset = write_jsonl(tmp_path / "subset.jsonl", problems)
    summary = evaluate_files(subset, "canonical", tmp_path / "out", ks=(1,), workers=2)
    assert (summary["n_samples"], summary["n_passed"]) == (41, 41)


@pytest.mark.slow
def test_humaneval_canonical_solutions_all_pass(shared_data, tmp_path):
    summary = evaluate_files(shared_data / HUMANEVAL, "canonical", tmp_path, ks=(1,), workers=2)
    assert (summary["n_samples"], summary["n_passed"]) == (164, 164)
    assert summary["pass_at_k"]["pass@1"] == 1.0


def test_codegen_samples_load_as_164_tasks_of_100(shared_data):
    problems = load_problems(shared_data / HUMANEVAL)
    samples = load_samples(shared_data / CODEGEN, problems)
    per_task = {}
    for s in samples:
        per_task[s.task_id] = per_task.get(s.task_id, 0) + 1
    assert len(samples) == 16_400 and set(per_task) == set(problems)
    assert set(per_task.values()) == {100}


@pytest.mark.slow
def test_mbpp_canonical_solutions(shared_data, tmp_path):
    # MbppEval/123 (amicable numbers below 9999) needs ~3 s of CPU, more on a busy machine.
    limits = SandboxLimits(timeout_s=30.0)
    summary = evaluate_files(
        shared_data / MBPP, "canonical", tmp_path, ks=(1,), limits=limits, workers=2
    )
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    failed = {int(r["task_id"].split("/")[1]) for r in rows if not r["passed"]}
    assert summary["n_samples"] == 427 and failed == MBPP_BROKEN


@pytest.mark.slow
def test_codegen16b_samples_match_published_pass_at_k(shared_data, tmp_path):
    """CodeGen-Mono-16B, T=0.8, 100 samples per problem, cut at Codex's stop sequences.

    Published for these samples (CodeT paper's baseline): pass@10 50.3, pass@100 73.7; the
    CodeGen paper's own best-temperature figures are 49.9 and 75.0. Published pass@1 (~29)
    comes from low-temperature sampling; at T=0.8 pass@1 is simply the per-sample pass rate
    (we measured 22.1 %), so here it is only checked for consistency.
    """
    summary = evaluate_files(
        shared_data / HUMANEVAL, shared_data / CODEGEN, tmp_path, stop=CODEX_STOP, workers=2
    )
    got = summary["pass_at_k"]
    assert summary["n_samples"] == 16_400
    assert got["pass@1"] == pytest.approx(summary["n_passed"] / 16_400)
    assert got["pass@10"] == pytest.approx(0.503, abs=0.02)
    assert got["pass@100"] == pytest.approx(0.737, abs=0.03)
