"""Rubric rules, satisfaction, JSONL errors and the synthetic generator (tgrd/rgsd/rubrics.py, tasks.py)."""

from __future__ import annotations

import json
import random

import pytest

from tgrd.rgsd.rubrics import (
    Criterion,
    RubricError,
    criterion_met,
    read_tasks,
    satisfaction,
    write_tasks,
)
from tgrd.rgsd.tasks import TOPICS, generate_tasks, generic_response, good_response


@pytest.mark.parametrize(
    ("criterion", "response", "expected"),
    [
        (Criterion("mentions", 1, "water"), "Bring Water along.", True),
        (Criterion("mentions", 1, "water"), "Bring waterproof boots.", False),
        (Criterion("max_words", 1, 3), "one two three", True),
        (Criterion("max_words", 1, 3), "one two three four", False),
        (Criterion("max_words", 1, 3), "   ", False),
        (Criterion("number_with_unit", 1, "liters"), "Carry 2.5 liters.", True),
        (Criterion("number_with_unit", 1, "liters"), "Carry two liters.", False),
        (Criterion("number_with_unit", 1, "km"), "Run 5km daily.", True),
        (Criterion("format", 1, "bullets"), "- a\n- b", True),
        (Criterion("format", 1, "bullets"), "- only one item", False),
        (Criterion("format", 1, "numbered"), "1. a\n2) b", True),
        (Criterion("ends_with_recommendation", 1), "Text.\nI recommend rest.\n\n", True),
        (Criterion("ends_with_recommendation", 1), "I recommend rest.\nThen more text.", False),
    ],
)
def test_rules(criterion, response, expected):
    assert criterion_met(response, criterion) is expected


def test_satisfaction_is_weighted_fraction():
    rubric = (
        Criterion("mentions", 2.0, "yeast"),
        Criterion("max_words", 1.0, 2),
        Criterion("ends_with_recommendation", 1.0),
    )
    assert satisfaction("Use yeast daily.", rubric) == pytest.approx(0.5)
    assert satisfaction("yeast. recommend", rubric) == pytest.approx(1.0)
    assert satisfaction("nothing relevant here at all", rubric) == 0.0


def test_jsonl_roundtrip_and_errors_name_file_line_key(tmp_path):
    tasks = generate_tasks(5, seed=3)
    path = tmp_path / "t.jsonl"
    write_tasks(tasks, path)
    assert read_tasks(path) == tasks

    good = json.dumps(tasks[0].to_dict())
    cases = {
        "not json": "invalid JSON",
        json.dumps(
            {"id": "a", "prompt": "p", "rubric": [{"kind": "rhymes"}]}
        ): "rubric[0].kind: unknown criterion kind",
        json.dumps(
            {"id": "a", "prompt": "p", "rubric": [{"kind": "mentions"}]}
        ): "rubric[0].term: missing",
        json.dumps(
            {"id": "a", "prompt": "p", "rubric": [{"kind": "max_words", "n": "5"}]}
        ): "rubric[0].n: expected",
        json.dumps(
            {"id": "a", "prompt": "p", "rubric": [{"kind": "format", "style": "table"}]}
        ): "rubric[0].style",
        json.dumps(
            {"id": "a", "prompt": "p", "rubric": [{"kind": "mentions", "term": "x", "weight": -1}]}
        ): "rubric[0].weight",
        json.dumps(
            {"id": "a", "prompt": "", "rubric": [{"kind": "ends_with_recommendation"}]}
        ): "key 'prompt'",
        json.dumps({"id": "a", "prompt": "p", "rubric": []}): "key 'rubric'",
        json.dumps(
            {"id": "a", "prompt": "p", "rubric": [{"kind": "ends_with_recommendation"}], "x": 1}
        ): "unknown key 'x'",
        good: "duplicate id",
    }
    for line, message in cases.items():
        bad = tmp_path / "bad.jsonl"
        bad.write_text(good + "\n\n" + line + "\n")
        with pytest.raises(RubricError) as err:
            read_tasks(bad)
        assert f"{bad}:3" in str(err.value)
        assert message in str(err.value)


def test_generator_is_deterministic_and_splits_differ():
    a, b = generate_tasks(20, seed=1), generate_tasks(20, seed=1)
    assert a == b
    assert [t.prompt for t in generate_tasks(20, seed=1, split="eval")] != [t.prompt for t in a]
    for task in a:
        term, _ = TOPICS[task.meta["topic"]]
        assert task.rubric[0] == Criterion("mentions", 2.0, term)


def test_reference_responses_separate_good_from_generic():
    rng = random.Random(0)
    tasks = generate_tasks(200, seed=0)
    good = [satisfaction(good_response(t, rng), t.rubric) for t in tasks]
    generic = [satisfaction(generic_response(t, rng), t.rubric) for t in tasks]
    assert min(good) == 1.0
    assert sum(generic) / len(generic) < 0.45
