"""Settings of the ground-truth (``downstream:``) and score-map calibration (``calibrate:``) stages.

    from tgrd.config import load_config
    cfg = load_config("configs/groundtruth_demo.yaml", ["downstream.seeds=[0,1]"])
    cfg.downstream.model        # "chargpt" (demo) or "hf_lora" (paper scale)

Demo scale fine-tunes a ~110k-parameter char GPT (tgrd/downstream/chargpt.py) that was pre-trained
once per seed on a generic corpus drawn from the synthetic task generators; paper scale
fine-tunes a local causal LM (Qwen3-1.7B-Base) with LoRA. Both score the task's held-out benchmark
(code: pass@1 in the sandbox; finqa: accuracy with tolerance).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tgrd.schema import StrictModel


class CharGPTConfig(StrictModel):
    """Shape and schedule of the demo's tiny char-level GPT (DESIGN.md §5)."""

    n_layer: int = Field(default=2, ge=1)
    n_embd: int = Field(default=64, ge=8)
    n_head: int = Field(default=4, ge=1)
    block_size: int = Field(default=96, ge=16)
    # Pre-training on a generic corpus of correct instances of both tasks, drawn from the
    # synthetic generators with a seed disjoint from the benchmark's: the stand-in for a base
    # model that already knows the formats. Cached in the run directory, once per seed.
    pretrain_examples: int = Field(default=6000, ge=1)
    pretrain_steps: int = Field(default=800, ge=0)
    pretrain_lr: float = Field(default=3e-3, gt=0)
    # Fine-tuning on one candidate (loss on the answer characters only).
    finetune_steps: int = Field(default=150, ge=0)
    finetune_lr: float = Field(default=1e-3, gt=0)
    batch_size: int = Field(default=32, ge=1)
    max_new_chars: int = Field(default=40, ge=1)


class HFLoraConfig(StrictModel):
    """Paper scale: LoRA SFT of a local causal LM (paper: Qwen3-1.7B-Base)."""

    # A local directory with the model and its tokenizer (nothing is downloaded at run time).
    model_path: str | None = None
    lora_r: int = Field(default=16, ge=1)
    lora_alpha: int = Field(default=32, ge=1)
    lora_dropout: float = Field(default=0.05, ge=0, le=1)
    target_modules: str | list[str] = "all-linear"
    epochs: float = Field(default=1.0, gt=0)
    max_steps: int | None = None
    lr: float = Field(default=2e-4, gt=0)
    batch_size: int = Field(default=8, ge=1)
    max_length: int = Field(default=1024, ge=16)
    max_new_tokens: int = Field(default=512, ge=1)
    dtype: Literal["float32", "bfloat16", "float16"] = "bfloat16"


class DownstreamConfig(StrictModel):
    """The ground-truth grid: candidates × seeds × tasks, one Ray Tune trial each."""

    model: Literal["chargpt", "hf_lora"] = "chargpt"
    tasks: list[str] = Field(default_factory=lambda: ["code", "finqa"])
    # Candidate names (files DIR/<task>/candidates/<name>.jsonl); empty = every file found.
    candidates: list[str] = Field(default_factory=list)
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2])
    # Cap on the benchmark items scored per trial (None = all of them).
    benchmark_limit: int | None = Field(default=None, ge=1)
    # Per-trial resources: fractional GPUs pack several trials on one device.
    cpus_per_trial: float = Field(default=1.0, gt=0)
    gpus_per_trial: float = Field(default=0.0, ge=0)
    # Torch intra-op threads in a trial (1 on a laptop: parallelism comes from the trials).
    threads_per_trial: int = Field(default=1, ge=1)
    # Retries of a failed trial (Ray Tune FailureConfig.max_failures).
    max_failures: int = Field(default=2, ge=0)
    # Run the next trial in the finished trial's worker process (TuneConfig.reuse_actors): saves
    # a process start and the torch/transformers imports per trial.
    reuse_actors: bool = True
    # Sandbox wall timeout per generated program (pass@1).
    code_timeout_s: float = Field(default=5.0, gt=0)
    chargpt: CharGPTConfig = Field(default_factory=CharGPTConfig)
    hf_lora: HFLoraConfig = Field(default_factory=HFLoraConfig)


class CalibrateConfig(StrictModel):
    """Score-map search on Ray Tune, cross-validated (leave-one-task-out, leave-one-candidate-out)."""

    # Verifier classes with a searched score each; "GATE_FAIL" is the gate-failure score.
    classes: list[str] = Field(
        default_factory=lambda: ["GATE_FAIL", "INCORRECT", "TASK_MISMATCH", "PASS"]
    )
    # Random maps sampled by Tune (scores uniform in [0, 1]); the same draws serve every fold,
    # and each fold picks its map from training rows only.
    num_samples: int = Field(default=4096, ge=1)
    # Maps evaluated per Tune trial (vectorised); trials = ceil(num_samples / maps_per_trial).
    maps_per_trial: int = Field(default=512, ge=1)
    seed: int = 0
    # The paper's learned map, reported as a fixed baseline (DESIGN.md §1).
    baseline: dict[str, float] = Field(
        default_factory=lambda: {
            "GATE_FAIL": 0.0,
            "INCORRECT": 0.0,
            "TASK_MISMATCH": 0.35,
            "PASS": 0.05,
        }
    )
    cpus_per_trial: float = Field(default=0.25, gt=0)
