"""Canonical records: every accepted input shape, role mapping, ids and reason codes."""

from __future__ import annotations

import pytest

from tgrd.records import RecordError, content_hash, detect_shape, to_canonical


def roles(rec):
    return [m["role"] for m in rec["messages"]]


def test_canonical_messages_keep_id_task_meta():
    (rec,) = to_canonical(
        {
            "id": "a1",
            "task": "finqa",
            "meta": {"k": 1},
            "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
        }
    )
    assert rec["id"] == "a1" and rec["task"] == "finqa" and rec["meta"]["k"] == 1
    assert rec["meta"]["source_shape"] == "messages"


def test_missing_id_is_a_stable_content_hash():
    row = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    (a,), (b,) = to_canonical(row), to_canonical(dict(row))
    assert a["id"] == b["id"] == content_hash(row["messages"])
    assert len(a["id"]) == 16
    other = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "b"}]}
    assert to_canonical(other)[0]["id"] != a["id"]


def test_alpaca_with_input_system_and_history():
    (rec,) = to_canonical(
        {
            "instruction": "Translate",
            "input": "hello",
            "output": "bonjour",
            "system": "be brief",
            "history": [["hi", "hey"]],
        }
    )
    assert roles(rec) == ["system", "user", "assistant", "user", "assistant"]
    assert rec["messages"][3]["content"] == "Translate\n\nhello"


def test_sharegpt_tool_roles_are_mapped():
    row = {
        "conversations": [
            {"from": "human", "value": "weather?"},
            {"from": "function_call", "value": '{"name": "w"}'},
            {"from": "observation", "value": '{"t": 1}'},
            {"from": "gpt", "value": "It is 1 degree."},
        ],
        "tools": "[...]",
        "system": "sys",
    }
    (rec,) = to_canonical(row)
    assert roles(rec) == ["system", "user", "assistant", "tool", "assistant"]
    assert rec["meta"]["tools"] == "[...]"


def test_sharegpt_preference_row_keeps_chosen():
    row = {
        "conversations": [{"from": "human", "value": "q"}],
        "chosen": {"from": "gpt", "value": "good"},
        "rejected": {"from": "gpt", "value": "bad"},
    }
    (rec,) = to_canonical(row)
    assert rec["messages"][-1] == {"role": "assistant", "content": "good"}
    assert rec["meta"]["rejected"]["value"] == "bad"


def test_prompt_response_pairs():
    assert roles(to_canonical({"prompt": "p", "completion": "c"})[0]) == ["user", "assistant"]
    assert (
        to_canonical({"question": "q", "answer": "#### 4"})[0]["messages"][1]["content"] == "#### 4"
    )


def test_oasst_tree_flattens_to_root_to_leaf_paths():
    tree = {
        "message_tree_id": "t",
        "prompt": {
            "message_id": "p",
            "role": "prompter",
            "text": "Q?",
            "replies": [
                {
                    "message_id": "a1",
                    "role": "assistant",
                    "text": "A1",
                    "rank": 0,
                    "replies": [
                        {"message_id": "p2", "role": "prompter", "text": "more?", "replies": []}
                    ],
                },
                {"message_id": "a2", "role": "assistant", "text": "A2", "rank": 1, "replies": []},
                {
                    "message_id": "a3",
                    "role": "assistant",
                    "text": "gone",
                    "deleted": True,
                    "replies": [],
                },
            ],
        },
    }
    recs = to_canonical(tree)
    assert [r["id"] for r in recs] == ["a1", "a2"]  # trailing prompter cut; deleted skipped
    assert all(roles(r) == ["user", "assistant"] for r in recs)
    assert recs[1]["meta"]["leaf_rank"] == 1


@pytest.mark.parametrize(
    "row, reason",
    [
        ([1, 2], "not_an_object"),
        ({"foo": 1}, "unknown_shape"),
        ({"messages": "x"}, "ill_typed_field"),
        ({"messages": [{"role": "user"}]}, "missing_field"),
        ({"messages": [{"role": "narrator", "content": "x"}]}, "unknown_role"),
        ({"messages": [{"role": "user", "content": 5}]}, "ill_typed_field"),
        ({"conversations": [{"from": "robot", "value": "x"}]}, "unknown_role"),
        ({"instruction": "x"}, "missing_field"),
        ({"instruction": "x", "output": 3}, "ill_typed_field"),
        ({"prompt": "x"}, "missing_field"),
        ({"messages": [], "meta": "notadict"}, "ill_typed_field"),
    ],
)
def test_bad_rows_raise_reason_codes(row, reason):
    with pytest.raises(RecordError) as err:
        to_canonical(row)
    assert err.value.reason == reason


def test_detect_shape():
    assert detect_shape({"conversations": []}) == "sharegpt"
    assert detect_shape({"instruction": "x"}) == "alpaca"
