"""``tgrd gate`` end to end: outputs, summary arithmetic, Ray == local, reruns are no-ops."""

from __future__ import annotations

import json

import pyarrow.parquet as pq

from tgrd.cli import main
from tgrd.pipeline import bundled_examples


def read_outputs(out):
    return (
        pq.read_table(out / "gated.parquet"),
        pq.read_table(out / "quarantine.parquet"),
        json.loads((out / "summary.json").read_text()),
    )


def test_gate_cli_on_ray_accounts_for_every_row(ray_session, tmp_path, shared_data):
    extra = tmp_path / "extra.jsonl"
    extra.write_bytes(
        b'{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", '
        b'"content": "hello there"}]}\n{broken\n\xff\xfe\n'
    )
    out = tmp_path / "gate"
    inputs = [str(bundled_examples()), str(extra), str(shared_data / "gsm8k" / "test.jsonl")]
    assert main(["gate", *inputs, "--out", str(out), "gates.actors=1"]) == 0
    gated, quarantine, summary = read_outputs(out)
    assert summary["rows_read"] == summary["records"] + summary["quarantined"]
    assert summary["records"] == summary["passed"] + summary["failed"] == gated.num_rows
    assert summary["failed"] == sum(summary["failed_by_reason"].values())
    assert (
        summary["quarantined"]
        == sum(summary["quarantined_by_reason"].values())
        == quarantine.num_rows
    )
    assert summary["engine"] == "ray"
    # The two bad lines of extra.jsonl are in quarantine with their line numbers.
    extra_q = [
        (r["line"], r["reason"])
        for r in quarantine.to_pylist()
        if r["source"].endswith("extra.jsonl")
    ]
    assert extra_q == [(2, "invalid_json"), (3, "invalid_utf8")]
    assert {"id", "gate_pass", "gate_reason", "messages", "source", "line"} <= set(
        gated.column_names
    )
    assert gated.num_rows > 1319  # all of GSM8K test plus the examples
    assert (out / "config.yaml").is_file() and (out / "versions.json").is_file()

    # Same inputs and settings: the stage is a no-op.
    before = (out / "gated.parquet").stat().st_mtime_ns
    assert main(["gate", *inputs, "--out", str(out), "gates.actors=1"]) == 0
    assert (out / "gated.parquet").stat().st_mtime_ns == before

    # In-process engine gives the same table.
    local = tmp_path / "local"
    assert main(["gate", *inputs, "--out", str(local), "--no-ray"]) == 0
    l_gated, l_quarantine, _ = read_outputs(local)
    assert l_gated.select(["id", "gate_reason"]).equals(gated.select(["id", "gate_reason"]))
    assert l_quarantine.select(["source", "line", "reason"]).equals(
        quarantine.select(["source", "line", "reason"])
    )


def test_gate_cli_errors_name_the_problem(tmp_path, capsys):
    assert (
        main(["gate", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "o"), "--no-ray"])
        == 2
    )
    assert "missing.jsonl" in capsys.readouterr().err
    assert (
        main(
            [
                "gate",
                str(bundled_examples()),
                "--out",
                str(tmp_path / "o"),
                "--no-ray",
                "gates.min_response_chars=many",
            ]
        )
        == 2
    )
    assert "gates.min_response_chars" in capsys.readouterr().err
