"""The report: tables agree with tgrd.metrics, plots are written, fragility is flagged."""

from __future__ import annotations

import json

import pytest

from tgrd import metrics
from tgrd.report import ReportInputs, agreement, fragility, write_report

CANDS = [f"cand_{i:02d}" for i in range(8)]


def make_inputs(seed_noise=0.01):
    dbs = {"code": {c: [i / 10 + seed_noise * s for s in (-1, 0, 1)] for i, c in enumerate(CANDS)}}
    dvs = {
        "tool+distilled": {"code": {c: float(i) for i, c in enumerate(CANDS)}},
        "llm-only": {"code": {c: float((i * 3) % 8) for i, c in enumerate(CANDS)}},
        "tool+llm": {"code": {c: 1.0 for c in CANDS}},
    }
    return ReportInputs(
        dvs=dvs,
        dbs=dbs,
        costs={"llm-only": {"infer_calls": 1024, "infer_tokens": 5e5, "infer_usd": 1.25}},
        confusion={
            "labels": ["PASS", "INCORRECT", "TASK_MISMATCH"],
            "matrix": [[44, 30, 2], [8, 40, 0], [0, 0, 10]],
        },
        gate_counts={"code": {"records": 100, "failed_by_reason": {"empty_response": 7}}},
        curves=[
            {
                "epoch": 0,
                "train_loss": 1.0,
                "val_loss": 1.1,
                "val_accuracy": 0.5,
                "val_macro_f1": 0.4,
            },
            {
                "epoch": 1,
                "train_loss": 0.6,
                "val_loss": 0.8,
                "val_accuracy": 0.7,
                "val_macro_f1": 0.6,
            },
        ],
        meta={"run": "test"},
    )


def test_report_files_and_numbers(tmp_path):
    inputs = make_inputs()
    result = write_report(inputs, tmp_path, n_resamples=200)
    for name in (
        "report.md",
        "metrics.json",
        "dvs_vs_dbs_code.png",
        "confusion.png",
        "training_curves.png",
    ):
        assert (tmp_path / name).is_file() and (tmp_path / name).stat().st_size > 0
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["table1"]["tool+distilled"]["code"]["spearman"] == pytest.approx(1.0)
    llm = [inputs.dvs["llm-only"]["code"][c] for c in CANDS]
    truth = [sum(inputs.dbs["code"][c]) / 3 for c in CANDS]
    assert result["table1"]["llm-only"]["code"]["kendall"] == pytest.approx(
        metrics.kendall(llm, truth)
    )
    assert result["table1"]["tool+llm"]["code"]["constant_dvs"] is True
    md = (tmp_path / "report.md").read_text()
    assert "Table 1" in md and "Table 2" in md and "constant DVS" in md and "1.2500" in md


def test_agreement_breakdown():
    a = agreement({"labels": ["PASS", "INCORRECT"], "matrix": [[44, 30], [8, 18]]})
    assert a["agreement"] == pytest.approx(0.62)
    assert (
        a["disagreements"][0]["teacher"] == "PASS"
        and a["disagreements"][0]["student"] == "INCORRECT"
    )
    assert a["disagreements"][0]["share_of_disagreements"] == pytest.approx(30 / 38)
    assert agreement(None) is None


def test_fragility_flags_noisy_tasks(tmp_path):
    noisy = make_inputs(seed_noise=0.3)
    assert fragility(noisy)["code"]["mean_seed_std"] == pytest.approx(0.3)
    write_report(noisy, tmp_path, n_resamples=50)
    assert "Warning: on code" in (tmp_path / "report.md").read_text()
