"""Tests of the synthetic benchmark generator (tgrd/synth): determinism, truth, recipes, grading.

.venv/bin/pytest tests/test_synth.py -x -q
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from scipy.stats import spearmanr

from tgrd.config import load_config
from tgrd.qaeval import score_item
from tgrd.records import RecordError, to_canonical
from tgrd.synth.generate import generate
from tgrd.synth.recipes import BUILTIN_RECIPES, candidate_recipes, correct_fraction
from tgrd.synth.settings import CATEGORIES, SynthConfig

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
SMALL = {"pool_size": 200, "candidate_size": 120, "benchmark_size": 30}


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "a"
    generate(load_config(CONFIGS / "synth_smoke.yaml").synth, out)
    return out


@pytest.fixture(scope="module")
def truth(smoke: Path):
    return pq.read_table(smoke / "truth.parquet").to_pylist()


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _run_program(source: str) -> bool:
    """Our own generated code only (never model output): exec in-process is safe here."""
    try:
        exec(compile(source, "<test>", "exec"), {})  # noqa: S102
    except Exception:
        return False
    return True


def test_same_seed_gives_identical_bytes(smoke: Path, tmp_path: Path) -> None:
    generate(load_config(CONFIGS / "synth_smoke.yaml").synth, tmp_path / "b")
    assert _files(smoke) == _files(tmp_path / "b")


def test_different_seed_differs(smoke: Path, tmp_path: Path) -> None:
    cfg = load_config(CONFIGS / "synth_smoke.yaml", ["synth.seed=1"]).synth
    generate(cfg, tmp_path / "c")
    a, c = _files(smoke), _files(tmp_path / "c")
    assert a.keys() == c.keys()
    assert a["code/pool.jsonl"] != c["code/pool.jsonl"]
    assert a["finqa/candidates/cand_03.jsonl"] != c["finqa/candidates/cand_03.jsonl"]


def test_truth_covers_every_line_and_nothing_leaks(smoke: Path, truth: list[dict]) -> None:
    by_file: dict[str, list[dict]] = {}
    for row in truth:
        by_file.setdefault(row["file"], []).append(row)
    files = sorted(
        p.relative_to(smoke).as_posix()
        for p in smoke.glob("*/*.jsonl")
        if p.name != "benchmark.jsonl"
    )
    files += sorted(p.relative_to(smoke).as_posix() for p in smoke.glob("*/candidates/*.jsonl"))
    assert sorted(by_file) == sorted(files)
    assert len({r["id"] for r in truth}) == len(truth)
    for rel, rows in by_file.items():
        lines = _lines(smoke / rel)
        assert [r["line"] for r in rows] == list(range(1, len(lines) + 1)), rel
        for row, line in zip(rows, lines, strict=True):
            if row["category"] == "malformed":
                continue
            rec = json.loads(line)
            assert rec["id"] == row["id"]
            assert set(rec) == {"id", "messages", "task", "meta"}
            assert rec["meta"] == {"source": "tgrd.synth"}  # no category, no hint
            assert not any(cat in line for cat in ("verbose_wrong", "off_task", "malformed"))


def test_only_planted_malformed_lines_fail_to_ingest(smoke: Path, truth: list[dict]) -> None:
    failures = {"malformed": 0, "other": 0}
    for row in truth:
        line = _lines(smoke / row["file"])[row["line"] - 1]
        try:
            to_canonical(json.loads(line))
            ok = True
        except (json.JSONDecodeError, RecordError):
            ok = False
        if row["category"] == "malformed":
            assert not ok, line
            failures["malformed"] += 1
        else:
            assert ok, line
    assert failures["malformed"] > 0


def _candidate_stats(smoke: Path, truth: list[dict], task: str) -> list[tuple[float, float, float]]:
    stats = []
    for k in range(8):
        name = f"cand_{k:02d}"
        rows = [r for r in truth if r["task"] == task and r["dataset"] == name]
        lines = _lines(smoke / task / "candidates" / f"{name}.jsonl")
        lengths, empty = [], 0
        for r, line in zip(rows, lines, strict=True):
            if r["category"] == "malformed":
                continue
            text = json.loads(line)["messages"][-1]["content"]
            lengths.append(len(text))
            empty += not text.strip()
        good = sum(r["category"] in ("clean", "terse") for r in rows) / len(rows)
        stats.append((good, sum(lengths) / len(lengths), empty / len(lengths)))
    return stats


@pytest.mark.parametrize("task", ["code", "finqa"])
def test_no_single_surface_statistic_orders_the_recipes(
    smoke: Path, truth: list[dict], task: str
) -> None:
    good, length, empty = zip(*_candidate_stats(smoke, truth, task), strict=True)
    assert len(set(good)) == 8  # quality differs between every pair of candidates
    for stat in (length, empty):
        rho = spearmanr(good, stat).statistic
        assert abs(rho) < 0.9, (task, rho)


def test_recipes_span_quality_and_extend_past_eight() -> None:
    fracs = sorted(correct_fraction(m) for m in BUILTIN_RECIPES)
    assert fracs[0] <= 0.4 and fracs[-1] >= 0.9
    mixes = candidate_recipes(11, seed=3)
    assert mixes[:8] == BUILTIN_RECIPES and len(mixes) == 11
    assert candidate_recipes(11, seed=3) == mixes
    assert all(abs(sum(m.values()) - 1) < 1e-9 for m in mixes)


def _key(root: Path) -> dict[tuple[str, str], dict]:
    return {(e["task"], e["prompt"]): e for e in map(json.loads, _lines(root / "answer_key.jsonl"))}


def _check_categories(root: Path, truth: list[dict], per_category: int = 15) -> None:
    key, seen = _key(root), {}
    for row in truth:
        cat = row["category"]
        if (
            cat not in ("clean", "terse", "incorrect", "verbose_wrong")
            or seen.get((row["task"], cat), 0) >= per_category
        ):
            continue
        seen[(row["task"], cat)] = seen.get((row["task"], cat), 0) + 1
        rec = json.loads(_lines(root / row["file"])[row["line"] - 1])
        prompt, response = rec["messages"][0]["content"], rec["messages"][1]["content"]
        entry = key[(row["task"], prompt)]
        if row["task"] == "code":
            ok = _run_program(
                f"{prompt}{response}\n\n{entry['test']}\ncheck({entry['entry_point']})\n"
            )
        else:
            ok = score_item(entry, response)
        assert ok == (cat in ("clean", "terse")), (cat, prompt, response)
    assert len(seen) == 8


def test_clean_answers_pass_and_wrong_ones_fail(smoke: Path, truth: list[dict]) -> None:
    _check_categories(smoke, truth)


def test_benchmark_items_are_valid_and_held_out(smoke: Path, truth: list[dict]) -> None:
    problems = [json.loads(x) for x in _lines(smoke / "code" / "benchmark.jsonl")]
    assert {"task_id", "prompt", "entry_point", "test", "canonical_solution"} <= set(problems[0])
    for p in problems:
        assert _run_program(
            p["prompt"]
            + p["canonical_solution"]
            + "\n"
            + p["test"]
            + f"\ncheck({p['entry_point']})\n"
        )
        assert not _run_program(
            p["prompt"] + "    return None\n" + "\n" + p["test"] + f"\ncheck({p['entry_point']})\n"
        )
    qa = [json.loads(x) for x in _lines(smoke / "finqa" / "benchmark.jsonl")]
    assert all(isinstance(it["answer"], float) and it["tolerance"]["abs"] > 0 for it in qa)
    bench_prompts = {p["prompt"] for p in problems} | {it["question"] for it in qa}
    train_prompts = {p for _, p in _key(smoke)}
    assert not bench_prompts & train_prompts


def test_tiny_difficulty_is_short(smoke: Path) -> None:
    for task in ("code", "finqa"):
        recs = [json.loads(x) for x in _lines(smoke / task / "benchmark.jsonl")]
        lengths = [len(r["messages"][0]["content"]) for r in recs]
        assert (
            20 <= min(lengths) and max(lengths) <= 60 and 25 <= sum(lengths) / len(lengths) <= 50
        ), (task, lengths)


def test_standard_difficulty_and_one_task(tmp_path: Path) -> None:
    cfg = SynthConfig(difficulty="standard", tasks=["finqa"], num_candidates=3, **SMALL)
    manifest = generate(cfg, tmp_path)
    assert list(manifest["tasks"]) == ["finqa"] and not (tmp_path / "code").exists()
    truth = pq.read_table(tmp_path / "truth.parquet").to_pylist()
    assert {r["dataset"] for r in truth} == {"pool", "cand_00", "cand_01", "cand_02"}
    off_task = [r for r in truth if r["category"] == "off_task_other"]
    assert off_task  # code problems borrowed as off-task instances
    cfg2 = SynthConfig(difficulty="standard", num_candidates=2, **SMALL)
    generate(cfg2, tmp_path / "both")
    _check_categories(
        tmp_path / "both", pq.read_table(tmp_path / "both" / "truth.parquet").to_pylist(), 10
    )


def test_manifest_counts_match_truth(smoke: Path, truth: list[dict]) -> None:
    manifest = json.loads((smoke / "manifest.json").read_text())
    assert manifest["seed"] == 0
    for task, info in manifest["tasks"].items():
        for name, d in info["datasets"].items():
            rows = [r for r in truth if r["task"] == task and r["dataset"] == name]
            counts = {c: sum(r["category"] == c for r in rows) for c in CATEGORIES}
            assert {c: n for c, n in counts.items() if n} == d["counts"]
            assert len(rows) == d["size"]


def test_config_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="unknown categories"):
        SynthConfig(pool_mix={"clean": 1.0, "bogus": 0.1})
    with pytest.raises(ValueError, match="candidate_sizes"):
        SynthConfig(num_candidates=2, candidate_sizes=[5]).sizes()
    for name in ("synth_smoke.yaml", "synth_demo.yaml"):
        assert load_config(CONFIGS / name).synth.difficulty == "tiny"


def test_cli_writes_the_layout(tmp_path: Path, capsys) -> None:
    from tgrd.cli import main

    argv = [
        "synth",
        "--config",
        str(CONFIGS / "synth_smoke.yaml"),
        "--out",
        str(tmp_path),
        "synth.pool_size=50",
        "synth.candidate_sizes=[10,20,30,40,50,60,70,80]",
    ]
    assert main(argv) == 0
    assert "code: benchmark 40, pool 50, 8 candidates of 360 instances" in capsys.readouterr().out
    assert len(_lines(tmp_path / "finqa" / "candidates" / "cand_07.jsonl")) == 80
    assert main(["synth", "--out", str(tmp_path), "synth.bogus=1"]) == 2


def test_ingest_quarantines_exactly_the_malformed_lines(smoke: Path, truth: list[dict]) -> None:
    from tgrd.config import IngestConfig
    from tgrd.ingest import read_records

    inputs = [smoke / t / part for t in ("code", "finqa") for part in ("pool.jsonl", "candidates")]
    records, quarantine = read_records(inputs, IngestConfig())
    q = quarantine.to_pydict()
    bad = {
        (Path(s).relative_to(smoke).as_posix(), n)
        for s, n in zip(q["source"], q["line"], strict=True)
    }
    planted = {(r["file"], r["line"]) for r in truth if r["category"] == "malformed"}
    assert bad == planted
    assert records.num_rows == len(truth) - len(planted)


def test_gates_catch_the_structural_defects_and_pass_the_rest(
    smoke: Path, truth: list[dict]
) -> None:
    from tgrd.config import GateConfig
    from tgrd.gates import gate_record

    cfg, outcome = GateConfig(), {}
    for row in truth:
        if row["category"] == "malformed":
            continue
        rec = json.loads(_lines(smoke / row["file"])[row["line"] - 1])
        outcome.setdefault(row["category"], set()).add(gate_record(rec["messages"], cfg) == "")
    for cat in ("clean", "terse", "incorrect", "verbose_wrong", "off_task_other", "off_task_chat"):
        assert outcome[cat] == {True}, cat  # semantic defects are the teacher's job, not the gates'
    assert outcome["empty"] == {False} and outcome["repetition"] == {False}
