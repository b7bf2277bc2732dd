"""Typed settings of the teacher labeling stage (the ``teacher:`` section of the config).

    from tgrd.config import load_config
    cfg = load_config("configs/teacher_smoke.yaml", ["teacher.rpm=600"]).teacher

The API key is never a config value (configs are dumped into run directories): only the name of
the environment variable that holds it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tgrd.schema import StrictModel


class PriceConfig(StrictModel):
    """US dollars per million tokens for one model."""

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)


def _default_prices() -> dict[str, PriceConfig]:
    # OpenAI list prices (USD / 1M tokens) as of 2025. The simulated local teacher is priced like
    # gpt-4.1 so that budgets and the ledger are exercised in tests and the demo.
    return {
        "gpt-4.1": PriceConfig(input_per_mtok=2.00, output_per_mtok=8.00),
        "gpt-4.1-mini": PriceConfig(input_per_mtok=0.40, output_per_mtok=1.60),
        "gpt-4o": PriceConfig(input_per_mtok=2.50, output_per_mtok=10.00),
        "gpt-4o-mini": PriceConfig(input_per_mtok=0.15, output_per_mtok=0.60),
        "local-teacher": PriceConfig(input_per_mtok=2.00, output_per_mtok=8.00),
    }


class LocalTeacherConfig(StrictModel):
    """The simulated OpenAI-compatible teacher (tgrd/teacher/server.py)."""

    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0)  # 0 = any free port
    # Truth file (JSONL/Parquet: content_hash → category) from the synthetic benchmark.
    truth: str | None = None
    # Answer key (tgrd.synth answer_key.jsonl): check finqa answers and run code's hidden tests.
    answer_key: str | None = None
    latency_ms: float = Field(default=0.0, ge=0)
    # Probability that a verdict is replaced by another class (deterministic per instance).
    noise: float = Field(default=0.0, ge=0, le=1)
    # Probability that a long fluent INCORRECT answer is judged PASS (surface-quality bias).
    long_answer_bias: float = Field(default=0.0, ge=0, le=1)
    long_answer_words: int = Field(default=60, ge=1)
    # Fraction of requests answered with a fault; the kinds are drawn with these weights.
    fault_rate: float = Field(default=0.0, ge=0, le=1)
    fault_weights: dict[str, float] = Field(
        default_factory=lambda: {
            "429": 1.0,
            "500": 1.0,
            "hang": 0.5,
            "truncated": 1.0,
            "malformed": 1.0,
        }
    )
    hang_s: float = Field(default=5.0, ge=0)
    # Server-side limits (429 + Retry-After when exceeded); None = unlimited.
    rpm: float | None = Field(default=None, gt=0)
    tpm: float | None = Field(default=None, gt=0)
    # Ignore response_format and answer in prose (exercises the fallback parser).
    structured: bool = True
    # Reject requests carrying response_format with 400, like servers without the feature.
    reject_response_format: bool = False
    # Answer every request with an unparseable label (exercises failure recording).
    garbage_labels: bool = False
    # Seconds a batch takes to complete after creation.
    batch_delay_s: float = Field(default=0.0, ge=0)
    # When set, requests must carry this bearer key (read from this environment variable).
    require_key_env: str | None = None
    seed: int = 0


class TeacherConfig(StrictModel):
    # OpenAI base URL, e.g. http://127.0.0.1:8000/v1; None → $OPENAI_BASE_URL (or the local teacher).
    base_url: str | None = None
    model: str = "gpt-4.1"
    # Name of the environment variable holding the key (never the key itself).
    api_key_env: str = "OPENAI_API_KEY"
    # "3way" / "5way" (configs/rubrics/<name>.yaml) or a path to a rubric YAML.
    rubric: str = "3way"
    mode: Literal["online", "batch"] = "online"
    # JSON-schema response_format; False for servers without structured output (prose is parsed).
    structured_output: bool = True
    max_tokens: int = Field(default=96, gt=0)
    temperature: float = Field(default=0.0, ge=0)
    # Throughput: requests/min and tokens/min across all actors (None = unlimited).
    rpm: float | None = Field(default=500, gt=0)
    tpm: float | None = Field(default=200_000, gt=0)
    concurrency: int = Field(default=64, ge=1)
    timeout_s: float = Field(default=60.0, gt=0)
    # Transport-level retries (429, 5xx, timeouts, broken bodies) per label.
    max_retries: int = Field(default=8, ge=0)
    backoff_base_s: float = Field(default=0.5, gt=0)
    backoff_max_s: float = Field(default=30.0, gt=0)
    # Full requests per label when the reply parses but the label is invalid.
    max_label_attempts: int = Field(default=2, ge=1)
    # Persistent label cache + spend ledger (sqlite); shared across runs on purpose.
    cache_path: str = "runs/teacher_cache.sqlite"
    prices: dict[str, PriceConfig] = Field(default_factory=_default_prices)
    # Batch API jobs are billed at this fraction of the online price.
    batch_discount: float = Field(default=0.5, ge=0, le=1)
    # Spend caps for one run; the stage stops before exceeding them (None = no cap).
    budget_usd: float | None = Field(default=None, ge=0)
    budget_tokens: int | None = Field(default=None, ge=0)
    # Ray Data stage: labeling actors, fractional CPUs (2-core machines, ENVIRONMENT.md), rows/batch.
    actors: int = Field(default=2, ge=1)
    actor_num_cpus: float = Field(default=0.5, gt=0)
    batch_size: int = Field(default=256, gt=0)
    # Batch API: provider limits per batch (OpenAI: 50,000 requests, 200 MB) and polling.
    batch_max_requests: int = Field(default=50_000, ge=1)
    batch_max_bytes: int = Field(default=200_000_000, ge=1)
    batch_poll_s: float = Field(default=10.0, gt=0)
    batch_completion_window: str = "24h"
    # Rubric score per class for the teacher-based verifiers (None → the rubric file's scores);
    # GATE_FAIL is the score of an instance that failed a gate.
    score_map: dict[str, float] | None = None
    gate_fail_score: float = 0.0
    local: LocalTeacherConfig = Field(default_factory=LocalTeacherConfig)
