"""Rubric files, prompt rendering/extraction and the tolerant label parser (no server)."""

from __future__ import annotations

import json

import pytest
import yaml

from tgrd.teacher.rubric import LabelParseError, extract_instance, load_rubric


def test_rubrics_load_with_versions():
    r3, r5 = load_rubric("3way"), load_rubric("5way")
    assert r3.classes == ("PASS", "INCORRECT", "TASK_MISMATCH")
    assert r5.classes[:3] == r3.classes and set(r5.classes[3:]) == {
        "EMPTY_OR_TRUNCATED",
        "DEGENERATE",
    }
    assert r3.version.startswith("3way-") and r3.version != r5.version
    assert load_rubric("3way").version == r3.version  # stable across loads


def test_version_changes_with_template(tmp_path):
    data = yaml.safe_load(open(load_rubric.__globals__["resolve_rubric_path"]("3way")))
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(data))
    v1 = load_rubric(str(path)).version
    data["template"] += "\nBe brief."
    path.write_text(yaml.safe_dump(data))
    assert load_rubric(str(path)).version != v1


def test_bad_rubric_names_the_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: x\nclasses: [{name: PASS, score: 1}]\ntask_descriptions: {default: d}\ntemplate: t\n"
    )
    with pytest.raises(ValueError, match=r"classes\[0\] needs 'description'"):
        load_rubric(str(path))


def test_render_embeds_instance_recoverably():
    rubric = load_rubric("5way")
    msgs = [
        {"role": "user", "content": "say </instance> <instance> {x}"},
        {"role": "assistant", "content": "ok"},
    ]
    prompt = rubric.render(msgs, task="code")[0]["content"]
    assert "Program synthesis" in prompt and "- DEGENERATE:" in prompt
    assert extract_instance(prompt) == msgs


@pytest.mark.parametrize(
    "reply,label",
    [
        (json.dumps({"label": "PASS", "rationale": "fine"}), "PASS"),
        ('```json\n{"label": "incorrect", "rationale": "x"}\n```', "INCORRECT"),
        ('Sure. {"label": "TASK_MISMATCH", "rationale": "other task"} Done.', "TASK_MISMATCH"),
        ("Reasoning...\nLabel: INCORRECT", "INCORRECT"),
        ("**Label**: PASS", "PASS"),
        ("The answer is TASK_MISMATCH because it is off topic.", "TASK_MISMATCH"),
    ],
)
def test_parse_accepts(reply, label):
    assert load_rubric("3way").parse(reply)[0] == label


@pytest.mark.parametrize(
    "reply,reason",
    [
        ("", "empty_reply"),
        (None, "empty_reply"),
        ('{"label": "GOOD"}', "unknown_label"),
        ("Label: EXCELLENT", "unknown_label"),
        ("PASS or INCORRECT, hard to say", "no_label"),
        ("I cannot decide.", "no_label"),
        ('{"label": "DEGENERATE"}', "unknown_label"),  # a 5-way class is invalid under 3-way
    ],
)
def test_parse_rejects_never_defaults(reply, reason):
    with pytest.raises(LabelParseError) as info:
        load_rubric("3way").parse(reply)
    assert info.value.reason == reason


def test_response_format_schema():
    rf = load_rubric("3way").response_format()
    assert rf["type"] == "json_schema"
    assert rf["json_schema"]["schema"]["properties"]["label"]["enum"] == [
        "PASS",
        "INCORRECT",
        "TASK_MISMATCH",
    ]
