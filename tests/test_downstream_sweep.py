"""The ground-truth grid on a real local Ray Tune: retries, DBS with seed spread, resume."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("torch")

from tgrd.config import load_config  # noqa: E402
from tgrd.downstream.sweep import SweepError, downstream_trial, run_sweep  # noqa: E402

FAIL_ONCE = ("finqa/cand_00", 0)  # fails on its first attempt only: the retry must absorb it
FAIL_ALWAYS = ("finqa/cand_06", 1)  # fails while its flag file exists: the sweep must stop


def flaky_trial(config, settings, cache_dir, cells):
    """The real trial, behind failures switched by flag files in the stage directory."""
    out = Path(cache_dir).parent
    key = (config["cell"], int(config["seed"]))
    with open(out / "calls.log", "a") as f:
        f.write(f"{key[0]}|{key[1]}\n")
    once = out / "fail_once.flag"
    if key == FAIL_ONCE and once.exists():
        once.unlink()
        raise RuntimeError("injected failure (once)")
    if key == FAIL_ALWAYS and (out / "fail_always.flag").exists():
        raise RuntimeError("injected failure (until the flag is removed)")
    downstream_trial(config, settings, cache_dir, cells)


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory):
    from tgrd.synth.generate import generate

    out = tmp_path_factory.mktemp("synth")
    generate(load_config("configs/synth_smoke.yaml", ["synth.tasks=[finqa]"]).synth, out)
    return out


def _calls(out: Path) -> pd.Series:
    lines = (out / "calls.log").read_text().split()
    return pd.Series(lines).value_counts()


def test_sweep_retries_resumes_and_writes_dbs(ray_session, synth_dir, tmp_path):
    import ray.cloudpickle

    # The trainable lives in this test module, which Ray workers cannot import by name.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    cfg = load_config(
        None,
        [
            "downstream.tasks=[finqa]",
            "downstream.candidates=[cand_00,cand_06]",
            "downstream.seeds=[0,1]",
            "downstream.benchmark_limit=8",
            "downstream.max_failures=1",
            "downstream.chargpt.n_layer=1",
            "downstream.chargpt.n_embd=32",
            "downstream.chargpt.pretrain_examples=64",
            "downstream.chargpt.pretrain_steps=5",
            "downstream.chargpt.finetune_steps=5",
            "downstream.chargpt.batch_size=8",
            "downstream.chargpt.max_new_chars=12",
        ],
    ).downstream
    out = tmp_path / "gt"
    out.mkdir()
    (out / "fail_once.flag").touch()
    (out / "fail_always.flag").touch()
    with pytest.raises(SweepError, match="finqa/cand_06/seed1"):
        run_sweep(synth_dir, out, cfg, trainable=flaky_trial)
    first = _calls(out)
    assert first["finqa/cand_00|0"] == 2  # failed once, retried once, succeeded
    assert first["finqa/cand_06|1"] == 2  # 1 + max_failures attempts, then given up
    assert first["finqa/cand_00|1"] == 1 and first["finqa/cand_06|0"] == 1
    assert len(pd.read_parquet(out / "runs.parquet")) == 3  # finished trials are persisted

    (out / "fail_always.flag").unlink()
    dbs = run_sweep(synth_dir, out, cfg, trainable=flaky_trial)  # restores the Tune experiment
    second = _calls(out)
    assert second["finqa/cand_06|1"] == 3  # only the errored trial ran again
    for key in ("finqa/cand_00|0", "finqa/cand_00|1", "finqa/cand_06|0"):
        assert second[key] == first[key]

    runs = pd.read_parquet(out / "runs.parquet")
    assert len(runs) == 4 and set(runs["seed"]) == {0, 1}
    assert runs["score"].between(0, 1).all() and (runs["n_benchmark"] == 8).all()
    assert list(dbs["candidate"]) == ["cand_00", "cand_06"] and (dbs["n_seeds"] == 2).all()
    for _, row in dbs.iterrows():
        assert row["dbs"] == pytest.approx(sum(row["scores"]) / 2)
        assert row["seed_std"] == pytest.approx(pd.Series(row["scores"]).std())
    # Each seed has its own pre-trained base (init varies, not only the data order).
    assert len(list((out / "pretrain").glob("base_seed*.pt"))) == 2
    assert runs.groupby("seed")["train_loss_first"].first().nunique() == 2
    assert (out / "dbs.parquet").is_file() and (out / "timing.json").is_file()
