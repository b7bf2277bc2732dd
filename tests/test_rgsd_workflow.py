"""The rgsd configs, CLI and workflow end to end (tgrd/commands/rgsd.py, tgrd/rgsd/workflow.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tgrd.cli import main
from tgrd.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[1]
RGSD_CONFIGS = sorted((ROOT / "configs").glob("rgsd_*.yaml"))


@pytest.mark.parametrize("path", RGSD_CONFIGS, ids=lambda p: p.name)
def test_rgsd_configs_load_and_open_with_their_command(path):
    cfg = load_config(path)
    assert cfg.rgsd.train.divergence in ("reverse_kl", "forward_kl", "jsd")
    first = path.read_text().splitlines()[0]
    assert first.startswith("#")
    assert "tgrd rgsd --config" in path.read_text()


def test_bad_rgsd_override_names_the_key():
    with pytest.raises(ConfigError, match="rgsd.train.divergence"):
        load_config(RGSD_CONFIGS[0], ["rgsd.train.divergence=kl"])
    with pytest.raises(ConfigError, match="unknown key 'rgsd.train.rollouts'"):
        load_config(RGSD_CONFIGS[0], ["rgsd.train.rollouts=16"])


def test_cli_smoke_writes_report_and_rerun_resumes(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["rgsd", "--config", str(ROOT / "configs/rgsd_smoke.yaml"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "conditioning gap" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["conditions"]) == {"base_without_rubric", "base_with_rubric", "sft", "rgsd"}
    for cond in metrics["conditions"].values():
        assert 0.0 <= cond["satisfaction"] <= 1.0
        assert cond["n_responses"] == metrics["n_eval_prompts"]
    report = (out / "report.md").read_text()
    assert "Conditioning gap" in report and "RGSD student" in report
    for name in ("satisfaction.png", "training.png", "length.png", "config.yaml", "versions.json"):
        assert (out / name).stat().st_size > 0
    checkpoints = sorted(p.name for p in (out / "rgsd" / "checkpoints").iterdir())
    assert checkpoints == ["step_000002", "step_000004"]
    # Rerun: base reloaded, training already at its last step, same evaluation.
    mtime = (out / "rgsd" / "checkpoints" / "step_000004" / "state.pt").stat().st_mtime_ns
    assert main(["rgsd", "--config", str(ROOT / "configs/rgsd_smoke.yaml"), "--out", str(out)]) == 0
    assert (out / "rgsd" / "checkpoints" / "step_000004" / "state.pt").stat().st_mtime_ns == mtime
    again = json.loads((out / "metrics.json").read_text())
    assert (
        again["conditions"]["rgsd"]["satisfaction"] == metrics["conditions"]["rgsd"]["satisfaction"]
    )


def test_bad_task_file_fails_with_file_and_line(tmp_path, capsys):
    bad = tmp_path / "tasks.jsonl"
    bad.write_text('{"id": "a", "prompt": "p", "rubric": [{"kind": "mentions"}]}\n')
    rc = main(
        [
            "rgsd",
            "--config",
            str(ROOT / "configs/rgsd_smoke.yaml"),
            "--out",
            str(tmp_path / "o"),
            f"rgsd.data.train_path={bad}",
        ]
    )
    assert rc == 2
    assert f"{bad}:1: rubric[0].term: missing" in capsys.readouterr().err


@pytest.mark.slow
def test_rgsd_student_beats_the_base_on_held_out_prompts(tmp_path):
    """The learnable synthetic task: RGSD closes much of the conditioning gap in a small budget."""
    from tgrd.rgsd.workflow import run_rgsd

    cfg = load_config(
        ROOT / "configs/rgsd_demo.yaml",
        [
            "rgsd.train.steps=40",
            "rgsd.data.n_eval=48",
            "rgsd.eval.samples=1",
            "rgsd.eval.sft_baseline=false",
        ],
    )
    metrics = run_rgsd(cfg, tmp_path / "demo", log=lambda row: None)
    conds = metrics["conditions"]
    assert metrics["conditioning_gap"] > 0.3
    assert conds["rgsd"]["satisfaction"] > conds["base_without_rubric"]["satisfaction"] + 0.2
