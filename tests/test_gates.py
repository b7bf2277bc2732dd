"""Gates: reason codes on tiny inline records, and the vectorised kernel == the reference."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest

from tgrd import gates
from tgrd.config import GateConfig
from tgrd.ingest import MESSAGE_TYPE

CFG = GateConfig()
SCHEMA = pa.schema([("messages", pa.list_(MESSAGE_TYPE))])


def chat(*turns):
    return [{"role": r, "content": c} for r, c in turns]


def table(convs):
    return pa.Table.from_pylist([{"messages": m} for m in convs], schema=SCHEMA)


PROSE = (
    "Revenue grew because the company opened two new stores in the north region, while "
    "operating costs fell after the move to a cheaper supplier; the margin therefore "
    "improved from twelve to fifteen percent over the fiscal year."
)

CASES = [
    (chat(("user", "q"), ("assistant", PROSE)), ""),
    (chat(("user", "q"), ("assistant", "42")), ""),  # terse but correct passes
    ([], gates.SCHEMA_NO_MESSAGES),
    (chat(("user", "q"), ("wizard", "x"), ("assistant", "a")), gates.SCHEMA_UNKNOWN_ROLE),
    (chat(("assistant", "a")), gates.SCHEMA_NO_USER_TURN),
    (chat(("user", "q")), gates.SCHEMA_NOT_ENDING_WITH_ASSISTANT),
    (chat(("user", "q"), ("system", "s"), ("assistant", "a")), gates.SCHEMA_MISPLACED_SYSTEM),
    (chat(("user", "q"), ("user", "q2"), ("assistant", "a")), gates.SCHEMA_BAD_ALTERNATION),
    (
        chat(("system", "s"), ("assistant", "hi"), ("user", "q"), ("assistant", "a")),
        gates.SCHEMA_BAD_ALTERNATION,
    ),
    (chat(("user", "q"), ("tool", "r"), ("assistant", "a")), gates.SCHEMA_BAD_ALTERNATION),
    (
        chat(("user", " \n"), ("assistant", "x"), ("user", "q"), ("assistant", "a")),
        gates.SCHEMA_EMPTY_TURN,
    ),
    (
        chat(
            ("system", "s"),
            ("user", "q"),
            ("assistant", "call"),
            ("tool", "r"),
            ("tool", "r2"),
            ("assistant", "done"),
        ),
        "",
    ),
    (chat(("user", "q"), ("assistant", "")), gates.EMPTY_RESPONSE),
    (chat(("user", "q"), ("assistant", "  **\n ``` ``` <br/> <p></p> ---")), gates.EMPTY_RESPONSE),
    (
        chat(("user", "q"), ("assistant", "\n".join(["the same line over and over again ok"] * 6))),
        gates.DUP_LINE_FRAC,
    ),
    (chat(("user", "q"), ("assistant", " ".join(["buy now"] * 30))), gates.top_ngram_reason(2)),
    (chat(("user", "q"), ("assistant", PROSE + " " + PROSE)), gates.dup_ngram_reason(5)),
]


@pytest.mark.parametrize("messages, expected", CASES)
def test_reason_codes_reference_and_kernel(messages, expected):
    assert gates.gate_record(messages, CFG) == expected
    out = gates.gate_table(table([messages]), CFG)
    assert out.column("gate_reason").to_pylist() == [expected]
    assert out.column("gate_pass").to_pylist() == [expected == ""]


def test_min_response_chars_is_configurable():
    short = [chat(("user", "q"), ("assistant", "42"))]
    strict = GateConfig(min_response_chars=3)
    assert gates.gate_table(table(short), strict).column("gate_reason").to_pylist() == [
        gates.TOO_SHORT_RESPONSE
    ]
    assert gates.gate_record(short[0], strict) == gates.TOO_SHORT_RESPONSE


def test_thresholds_come_from_config():
    loose = GateConfig(
        top_ngram_char_frac={2: 0.99},
        dup_ngram_char_frac={},
        dup_line_frac=1.0,
        dup_line_char_frac=1.0,
    )
    rep = [chat(("user", "q"), ("assistant", " ".join(["buy now"] * 30)))]
    assert gates.gate_table(table(rep), loose).column("gate_reason").to_pylist() == [""]


def random_corpus(n, seed):
    rng = random.Random(seed)
    vocab = [
        "".join(rng.choice("abcdefghij") for _ in range(rng.randint(1, 7))) for _ in range(400)
    ]
    convs = []
    for _ in range(n):
        kind = rng.random()
        if kind < 0.2:
            line = " ".join(rng.choices(vocab, k=rng.randint(3, 9)))
            resp = "\n".join([line] * rng.randint(1, 6) + [" ".join(rng.choices(vocab, k=5))])
        elif kind < 0.4:
            phrase = " ".join(rng.choices(vocab, k=rng.randint(1, 8)))
            resp = (
                " ".join([phrase] * rng.randint(1, 25)) + " " + " ".join(rng.choices(vocab, k=20))
            )
        elif kind < 0.45:
            resp = rng.choice(["", " ", "**", "<b></b>", "x", "\n\n"])
        else:
            resp = " ".join(rng.choices(vocab, k=rng.randint(1, 150)))
        msgs = chat(("user", "question"), ("assistant", resp))
        if rng.random() < 0.1:
            msgs = rng.choice(
                [[], msgs[:1], msgs[::-1], [msgs[0]] + msgs, chat(("system", "s")) + msgs]
            )
        convs.append(msgs)
    return convs


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kernel_matches_reference_on_random_corpus(seed):
    convs = random_corpus(1500, seed)
    expected = [gates.gate_record(m, CFG) for m in convs]
    got = gates.gate_table(table(convs), CFG).column("gate_reason").to_pylist()
    assert got == expected
    assert len(set(expected)) >= 6  # the corpus exercises many gates, not just one


def test_kernel_matches_reference_on_real_text(shared_data):
    from tgrd.config import IngestConfig
    from tgrd.ingest import read_records

    records, _ = read_records(
        [
            shared_data / "llamafactory_demo" / "alpaca_en_demo.json",
            shared_data / "oasst_en100" / "en_100_tree.jsonl",
            shared_data / "gsm8k" / "test.jsonl",
        ],
        IngestConfig(),
    )
    got = gates.gate_table(records, CFG).column("gate_reason").to_pylist()
    expected = [gates.gate_record(m, CFG) for m in records.column("messages").to_pylist()]
    assert got == expected
    assert got.count("") > 0.9 * len(got)  # real curated data mostly passes


def test_kernel_accepts_record_batches_and_sliced_tables():
    convs = random_corpus(200, 5)
    t = table(convs)
    sliced = t.slice(50, 100)
    expected = [gates.gate_record(m, CFG) for m in convs[50:150]]
    assert gates.gate_table(sliced, CFG).column("gate_reason").to_pylist() == expected
    batch = sliced.combine_chunks().to_batches()[0]
    assert gates.gate_table(batch, CFG).column("gate_reason").to_pylist() == expected


def test_gate_dataset_on_ray(ray_session):
    import ray.data

    convs = random_corpus(300, 9)
    ds = ray.data.from_arrow(table(convs)).repartition(3)
    out = gates.gate_dataset(ds, GateConfig(actors=1, batch_size=64)).to_pandas()
    expected = sorted(gates.gate_record(m, CFG) for m in convs)
    assert sorted(out["gate_reason"].tolist()) == expected
