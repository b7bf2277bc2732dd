"""Tests of answer extraction and tolerance (tgrd/qaeval.py) on inline cases, GSM8K and TAT-QA.

.venv/bin/pytest tests/test_qaeval.py -x -q
"""

from __future__ import annotations

import ast
import json
import operator

import pytest

from tgrd.adapters.gsm8k import gsm8k_model_solution_records
from tgrd.qaeval import (
    accuracy,
    extract_answer,
    extract_parsed,
    numbers_match,
    parse_number,
    score_answer,
    score_item,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("16 - 3 - 4 = 9 eggs\n#### 9", 9.0),
        ("#### 1,080", 1080.0),
        ("Net loss was (1,234) thousand.", -1234.0),
        ("He paid $1,234.50 in total.", 1234.5),
        ("The change is -12.6%", -12.6),
        ("−5", -5.0),
        ("7-3=4", 4.0),
        ("From 2023-03-01 to 2023-05-01 is 61 days.", 61.0),
        ("so 2 * 9 = $<<2*9=18>>18 per day\nA: 18", 18.0),
        ("The answer is 42. I checked it 3 times.", 42.0),
        ("Answer: (3.5) million", -3.5),
        ("Revenue grew 12.5 percent to $3bn", 3.0),
        ("no numbers here", None),
        ("", None),
    ],
)
def test_extract_answer(text: str, value: float | None) -> None:
    assert extract_answer(text) == value


def test_decorations_are_reported() -> None:
    p = extract_parsed("Revenue was $1.2 million")
    assert (p.value, p.scale, p.scaled()) == (1.2, "million", 1.2e6)
    assert extract_parsed("a margin of 31.82%").percent
    assert (
        parse_number(7).value == 7.0 and parse_number(True) is None and parse_number("n/a") is None
    )


def test_tolerance_is_absolute_plus_relative() -> None:
    assert numbers_match(100.0, 100.0)
    assert not numbers_match(100.5, 100.0)
    assert numbers_match(100.5, 100.0, abs_tol=0.5)
    assert numbers_match(100.5, 100.0, rel_tol=0.005)
    assert not numbers_match(None, 1.0, abs_tol=1e9)


def test_scale_words_convert_only_when_they_differ() -> None:
    assert score_answer("1.2 million", 1_200_000)
    assert score_answer("1.2 million", 1.2, gold_scale="million")
    assert score_answer("1,200 thousand", 1.2, gold_scale="million")
    assert not score_answer("1.2 billion", 1.2, gold_scale="million")


def test_score_item_and_accuracy() -> None:
    num = {"answer": 5.0, "tolerance": {"abs": 0.01, "rel": 0.001}}
    spans = {"answer": ["fixed price", "cost plus"]}
    assert score_item(num, "7-2=5") and not score_item(num, "7-2=6")
    assert score_item(spans, "Fixed-price and cost-plus contracts")
    assert not score_item(spans, "fixed price only")
    assert score_item(spans, "fixed price, cost plus")
    assert score_item({"answer": "Texas"}, " texas ")
    assert accuracy([num, num], ["5", "4"]) == 0.5


def _gsm8k_final(answer: str) -> float:
    return float(answer.split("####")[1].strip().replace(",", ""))


@pytest.mark.parametrize("split", ["train", "test"])
def test_gsm8k_references_extract_to_themselves(shared_data, split: str) -> None:
    rows = [
        json.loads(x) for x in (shared_data / "gsm8k" / f"{split}.jsonl").read_text().splitlines()
    ]
    assert all(extract_answer(r["answer"]) == _gsm8k_final(r["answer"]) for r in rows)


def test_gsm8k_model_solutions_agree_with_is_correct(shared_data) -> None:
    recs = gsm8k_model_solution_records(shared_data / "gsm8k" / "example_model_solutions.jsonl")
    agree = sum(
        numbers_match(extract_answer(r["messages"][1]["content"]), r["meta"]["final_answer"])
        == r["meta"]["is_correct"]
        for r in recs
    )
    rate = agree / len(recs)
    print(
        f"GSM8K example_model_solutions: extraction agrees with is_correct on {agree}/{len(recs)} = {rate:.4f}"
    )
    assert len(recs) == 4 * 1319 and rate >= 0.98


_OPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.USub: operator.neg,
}


def _eval(node: ast.AST) -> float:
    if isinstance(node, ast.Expression):
        return _eval(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_eval(node.left), _eval(node.right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_eval(node.operand))
    raise ValueError("not plain arithmetic")


def test_tatqa_arithmetic(shared_data) -> None:
    contexts = json.loads((shared_data / "tatqa" / "tatqa_dataset_test_gold.json").read_text())
    qs = [q for c in contexts for q in c["questions"] if q["answer_type"] == "arithmetic"]
    assert len(qs) > 500
    recomputed = agree = 0
    for q in qs:
        gold, scale = float(q["answer"]), q["scale"]
        # The gold answer, written the ways a model might write it, extracts to itself.
        assert score_answer(f"The answer is {gold:,}", gold)
        if gold < 0:
            assert score_answer(f"({abs(gold):,})", gold)
        if scale in ("thousand", "million", "billion"):
            assert score_answer(f"${gold:,} {scale}", gold, gold_scale=scale)
        # Recomputing the derivation lands within TAT-QA's 2-decimal rounding tolerance.
        try:
            value = _eval(
                ast.parse(
                    q["derivation"].replace(",", "").replace("$", "").replace("%", ""), mode="eval"
                )
            )
        except (ValueError, SyntaxError, ZeroDivisionError):
            continue
        recomputed += 1
        candidates = (value, value * 100)  # percentages are stated ×100 or not in derivations
        agree += any(
            score_answer(f"{v:.4f}", gold, abs_tol=0.01, rel_tol=0.001) for v in candidates
        )
    print(f"TAT-QA test arithmetic: {agree}/{recomputed} derivations recompute to the gold answer")
    assert recomputed > 400 and agree / recomputed > 0.9
