"""Ingest: every bad row is quarantined with file, line and reason; real public files load."""

from __future__ import annotations

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tgrd.config import IngestConfig
from tgrd.ingest import discover_inputs, read_records, read_records_ray
from tgrd.pipeline import bundled_examples

GOOD = {"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]}


def write_lines(path, lines):
    path.write_bytes(
        b"\n".join(line if isinstance(line, bytes) else line.encode() for line in lines) + b"\n"
    )
    return path


def reasons(q):
    return sorted(zip(q.column("line").to_pylist(), q.column("reason").to_pylist()))


def test_each_bad_row_is_quarantined_with_line_and_reason(tmp_path):
    path = write_lines(
        tmp_path / "mixed.jsonl",
        [
            json.dumps(dict(GOOD, id="ok-1")),
            '{"id": "broken", "messages": [',
            b'{"id": "latin", "messages": [{"role": "user", "content": "caf\xe9"}]}',
            json.dumps({"id": "norole", "messages": [{"content": "x"}]}),
            json.dumps({"id": "badrole", "messages": [{"role": "wizard", "content": "x"}]}),
            json.dumps({"id": "badtype", "messages": [{"role": "user", "content": ["x"]}]}),
            json.dumps(dict(GOOD, id="big", pad="x" * 500)),
            "",  # blank lines are skipped, not errors
            json.dumps(dict(GOOD, id="ok-1")),
            "[1, 2]",
        ],
    )
    records, quarantine = read_records([path], IngestConfig(max_row_bytes=400))
    assert records.column("id").to_pylist() == ["ok-1"]
    assert reasons(quarantine) == [
        (2, "invalid_json"),
        (3, "invalid_utf8"),
        (4, "missing_field"),
        (5, "unknown_role"),
        (6, "ill_typed_field"),
        (7, "row_too_large"),
        (9, "duplicate_id"),
        (10, "not_an_object"),
    ]
    assert set(quarantine.column("source").to_pylist()) == {str(path)}
    assert all(quarantine.column("detail").to_pylist())
    raw = dict(zip(quarantine.column("line").to_pylist(), quarantine.column("raw").to_pylist()))
    assert raw[2].startswith('{"id": "broken"') and "caf" in raw[3]


def test_raw_text_is_truncated(tmp_path):
    path = write_lines(tmp_path / "long.jsonl", ['{"x": "' + "y" * 5000])
    _, quarantine = read_records([path], IngestConfig(raw_text_chars=100))
    assert len(quarantine.column("raw")[0].as_py()) == 100


def test_gzip_json_array_and_parquet(tmp_path):
    gz = tmp_path / "a.jsonl.gz"
    with gzip.open(gz, "wt") as f:
        f.write(json.dumps(dict(GOOD, id="gz")) + "\n")
    arr = tmp_path / "b.json"
    arr.write_text(
        json.dumps([{"instruction": "hi", "output": "hello"}, {"instruction": "x", "output": 3}])
    )
    table = pa.Table.from_pylist([dict(GOOD, id="pq", meta=json.dumps({"k": 1}))])
    pq.write_table(table, tmp_path / "c.parquet")
    records, quarantine = read_records([tmp_path], IngestConfig())
    assert sorted(records.column("id").to_pylist())[-2:] == ["gz", "pq"]
    assert records.num_rows == 3
    assert reasons(quarantine) == [(2, "ill_typed_field")]
    pq_row = [r for r in records.to_pylist() if r["id"] == "pq"][0]
    assert json.loads(pq_row["meta"])["k"] == 1


def test_corrupt_files_are_quarantined_whole(tmp_path):
    good = gzip.compress(json.dumps(GOOD).encode() * 50)
    (tmp_path / "trunc.jsonl.gz").write_bytes(good[: len(good) // 2])
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 not really")
    (tmp_path / "bad.json").write_text('{"a": [1, 2')
    _, quarantine = read_records([tmp_path], IngestConfig())
    by_file = {r["source"].rsplit("/", 1)[-1]: r["reason"] for r in quarantine.to_pylist()}
    assert by_file == {
        "trunc.jsonl.gz": "unreadable_file",
        "bad.parquet": "unreadable_file",
        "bad.json": "invalid_json",
    }


def test_missing_inputs_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.jsonl"):
        discover_inputs([tmp_path / "nope.jsonl"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no .jsonl"):
        discover_inputs([tmp_path / "empty"])


def test_real_public_files(shared_data):
    files = [
        shared_data / "gsm8k" / "train.jsonl",
        shared_data / "gsm8k" / "test.jsonl",
        shared_data / "llamafactory_demo" / "alpaca_en_demo.json",
        shared_data / "llamafactory_demo" / "dpo_en_demo.json",
        shared_data / "llamafactory_demo" / "glaive_toolcall_en_demo.json",
        shared_data / "llamafactory_demo" / "identity.json",
        shared_data / "oasst_en100" / "en_100_tree.jsonl",
    ]
    records, quarantine = read_records(files, IngestConfig())
    per_source = {}
    for src in records.column("source").to_pylist():
        per_source[src.rsplit("/", 1)[-1]] = per_source.get(src.rsplit("/", 1)[-1], 0) + 1
    assert per_source["train.jsonl"] == 7473 and per_source["test.jsonl"] == 1319
    # Every input row is accounted for: kept or quarantined (here only exact duplicates).
    q_sources = [s.rsplit("/", 1)[-1] for s in quarantine.column("source").to_pylist()]
    assert per_source["alpaca_en_demo.json"] + q_sources.count("alpaca_en_demo.json") == 999
    assert (
        per_source["glaive_toolcall_en_demo.json"] + q_sources.count("glaive_toolcall_en_demo.json")
        == 300
    )
    assert set(quarantine.column("reason").to_pylist()) == {"duplicate_id"}
    # OpenAssistant: 100 trees flatten into root-to-leaf conversations ending with an assistant.
    oasst = [r for r in records.to_pylist() if r["source"].endswith("en_100_tree.jsonl")]
    assert len(oasst) > 100
    assert all(r["messages"][-1]["role"] == "assistant" for r in oasst)
    glaive = [
        r for r in records.to_pylist() if r["source"].endswith("glaive_toolcall_en_demo.json")
    ]
    assert any(m["role"] == "tool" for r in glaive for m in r["messages"])


def test_prompt_only_file_is_quarantined_not_dropped(shared_data):
    records, quarantine = read_records(
        [shared_data / "oasst_en100" / "prompt_lottery_en_250_text.jsonl"], IngestConfig()
    )
    assert records.num_rows == 0 and quarantine.num_rows == 250


def test_ray_path_matches_local_path(ray_session, tmp_path):
    local_rec, local_q = read_records([bundled_examples()], IngestConfig())
    ds, ray_q = read_records_ray([bundled_examples()], IngestConfig())
    ray_rec = (
        ds.to_arrow()
        if hasattr(ds, "to_arrow")
        else pa.concat_tables([ray_session.get(r) for r in ds.to_arrow_refs()])
    )
    key = [("source", "ascending"), ("line", "ascending"), ("id", "ascending")]
    assert (
        ray_rec.sort_by(key).column("id").to_pylist()
        == local_rec.sort_by(key).column("id").to_pylist()
    )
    assert reasons(ray_q) == reasons(local_q)
    assert local_q.num_rows >= 8
