"""Settings of the synthetic DataChef-like benchmark (the ``synth:`` section of the config).

    from tgrd.config import load_config
    cfg = load_config("configs/synth_demo.yaml", ["synth.seed=3"]).synth

``difficulty`` is the knob that decides who can learn the data: ``tiny`` (the demo default) gives
prompts of ~30-60 characters, one-digit operands and answers keyed to words in the prompt, which a
~100k-parameter char-level GPT learns on 2 CPU cores (DESIGN.md §5); ``standard`` gives
multi-line financial statements, two-step questions and list/string programs with examples, for
real models at paper scale.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from tgrd.schema import StrictModel

# Every planted category. The truth file maps each to a 5-way rubric class (see recipes.py).
CATEGORIES: tuple[str, ...] = (
    "clean",  # correct, in the usual style
    "terse",  # correct but bare (no working shown)
    "incorrect",  # plausible, wrong
    "verbose_wrong",  # long fluent reasoning, wrong result
    "off_task_other",  # a correct instance of the other task
    "off_task_chat",  # generic chit-chat
    "empty",  # empty or whitespace-only response
    "truncated",  # a correct response cut mid-way
    "repetition",  # degenerate repetition of a fragment
    "malformed",  # broken JSONL line; ingest must quarantine it
)

TASKS: tuple[str, ...] = ("code", "finqa")

# Training pool: every class well represented so a teacher/student sees all of them.
DEFAULT_POOL_MIX: dict[str, float] = {
    "clean": 0.34,
    "terse": 0.06,
    "incorrect": 0.16,
    "verbose_wrong": 0.08,
    "off_task_other": 0.08,
    "off_task_chat": 0.07,
    "empty": 0.05,
    "truncated": 0.05,
    "repetition": 0.06,
    "malformed": 0.05,
}


class SynthConfig(StrictModel):
    """How much synthetic data to make, how hard, and how the candidates are mixed."""

    seed: int = 0
    tasks: list[Literal["code", "finqa"]] = Field(default_factory=lambda: list(TASKS))
    # tiny: demo-learnable (short prompts, one-digit operands); standard: paper-like.
    difficulty: Literal["tiny", "standard"] = "tiny"
    # Per task. The paper's teacher/student pool is ~84k in total (42k per task).
    pool_size: int = Field(default=2000, ge=0)
    num_candidates: int = Field(default=8, ge=1)
    candidate_size: int = Field(default=1500, ge=1)
    # Optional per-candidate sizes (length num_candidates); overrides candidate_size.
    candidate_sizes: list[int] | None = None
    benchmark_size: int = Field(default=200, ge=1)
    pool_mix: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_POOL_MIX))
    # Candidate recipes (category → proportion). None → the built-in recipes of recipes.py,
    # extended by seeded random mixes when num_candidates > 8.
    recipes: list[dict[str, float]] | None = None
    # QA tolerance stated on every finqa benchmark item: |pred - gold| <= abs + rel * |gold|.
    finqa_abs_tol: float = Field(default=0.01, ge=0)
    finqa_rel_tol: float = Field(default=0.001, ge=0)

    @field_validator("pool_mix")
    @classmethod
    def _check_pool_mix(cls, mix: dict[str, float]) -> dict[str, float]:
        return check_mix(mix, "pool_mix")

    @field_validator("recipes")
    @classmethod
    def _check_recipes(
        cls, recipes: list[dict[str, float]] | None
    ) -> list[dict[str, float]] | None:
        if recipes is not None:
            for i, mix in enumerate(recipes):
                check_mix(mix, f"recipes[{i}]")
        return recipes

    def sizes(self) -> list[int]:
        """Number of instances in each candidate dataset."""
        if self.candidate_sizes is None:
            return [self.candidate_size] * self.num_candidates
        if len(self.candidate_sizes) != self.num_candidates:
            raise ValueError(
                f"synth.candidate_sizes has {len(self.candidate_sizes)} entries, "
                f"synth.num_candidates is {self.num_candidates}"
            )
        return list(self.candidate_sizes)


def check_mix(mix: dict[str, float], where: str) -> dict[str, float]:
    """Validate a category mixture: known categories, non-negative, positive total."""
    unknown = sorted(set(mix) - set(CATEGORIES))
    if unknown:
        raise ValueError(f"{where}: unknown categories {unknown}; known: {list(CATEGORIES)}")
    if any(v < 0 for v in mix.values()):
        raise ValueError(f"{where}: proportions must be >= 0")
    if sum(mix.values()) <= 0:
        raise ValueError(f"{where}: proportions sum to 0")
    return mix
