"""RGSD under a real Ray Train TorchTrainer: CPU workers (gloo), checkpoints reported to Ray."""

from __future__ import annotations

import pytest
import torch

from tgrd.rgsd.model import build_base_model, build_tokenizer, save_base
from tgrd.rgsd.rollout import render_teacher
from tgrd.rgsd.rubrics import write_tasks
from tgrd.rgsd.settings import RgsdConfig
from tgrd.rgsd.tasks import generate_tasks

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("workers", [1, pytest.param(2, marks=pytest.mark.slow)])
def test_torch_trainer_trains_and_checkpoints(ray_session, tmp_path, workers):
    """1 worker in the default suite; 2 gloo workers (all-reduced adapter gradients) under -m slow."""
    from tgrd.rgsd.distributed import fit_with_ray
    from tgrd.rgsd.model import attach_lora
    from tgrd.rgsd.trainer import load_checkpoint

    cfg = RgsdConfig.model_validate(
        {
            "model": {
                "hidden_size": 32,
                "num_layers": 1,
                "num_heads": 2,
                "num_kv_heads": 1,
                "intermediate_size": 64,
            },
            "train": {
                "steps": 2,
                "batch_size": 4,
                "max_new_tokens": 6,
                "checkpoint_every": 1,
                "num_workers": workers,
            },
        }
    )
    tasks = generate_tasks(8, seed=0)
    write_tasks(tasks, tmp_path / "train.jsonl")
    tokenizer = build_tokenizer(
        cfg.model.model_copy(update={"bpe_vocab_size": 320}),
        [render_teacher(t, cfg.train.teacher_template) for t in tasks],
    )
    save_base(build_base_model(cfg.model, tokenizer), tokenizer, tmp_path / "base")

    final = fit_with_ray(cfg, tmp_path / "base", tmp_path / "train.jsonl", tmp_path / "out", seed=0)

    assert final.name == "step_000002"
    assert (tmp_path / "out" / "checkpoints" / "step_000001" / "state.pt").exists()
    model = attach_lora(build_base_model(cfg.model, tokenizer), cfg.lora)
    step, history = load_checkpoint(final, model)
    assert step == 2
    assert [h["step"] for h in history] == [1, 2]
    assert all(h["loss"] >= 0 and h["grad_norm"] == h["grad_norm"] for h in history)
    # Both steps updated the adapter (LoRA B starts at zero).
    lora_b = [p for n, p in model.named_parameters() if "lora_B" in n]
    assert max(float(p.abs().max()) for p in lora_b) > 0
    assert torch.isfinite(torch.stack([p.abs().sum() for p in lora_b])).all()
