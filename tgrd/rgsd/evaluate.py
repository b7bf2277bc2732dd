"""Held-out rubric satisfaction and response length of a model under a prompt condition.

Conditions compared in the report (paper §4): the base model without the rubric (the student's
starting point), the base model with the rubric in its prompt (the teacher; the difference is
the *conditioning gap*), the SFT baseline and the RGSD student (both without the rubric).
Satisfaction is the rule-checked weighted fraction of criteria met (rubrics.py), averaged over
``samples`` sampled responses per prompt; length drift is the change in mean words.

    result = evaluate_condition(model, tok, eval_tasks, cfg.train.student_template, cfg.eval)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any

import torch

from tgrd.rgsd.rollout import (
    decode_response,
    encode,
    render_student,
    render_teacher,
    sample_responses,
)
from tgrd.rgsd.rubrics import RubricTask, criterion_met, satisfaction
from tgrd.rgsd.settings import RgsdEvalConfig
from tgrd.rgsd.tasks import stable_seed


def evaluate_condition(
    model,
    tokenizer,
    tasks: Sequence[RubricTask],
    template: str,
    cfg: RgsdEvalConfig,
    with_rubric: bool = False,
    adapter: bool = True,
    seed: int = 0,
    batch_size: int = 32,
) -> dict[str, Any]:
    """Sample ``cfg.samples`` responses per task and score them against each task's rubric.

    Args:
        template: the prompt template (student's or teacher's).
        with_rubric: render the rubric into the prompt (``template`` must have ``{rubric}``).
        adapter: False evaluates a peft model with its adapter disabled (the base model).

    Returns:
        ``satisfaction`` (mean), ``satisfaction_per_prompt``, ``words`` (mean words),
        ``criteria`` (met rate per criterion kind), ``n_responses`` and a few ``examples``.
    """
    render = render_teacher if with_rubric else render_student
    prompts = encode(tokenizer, [render(t, template) for t in tasks])
    context = model.disable_adapter() if not adapter else nullcontext()
    per_prompt = [0.0] * len(tasks)
    words: list[int] = []
    met: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    examples = []
    with context:
        for sample in range(cfg.samples):
            torch.manual_seed(stable_seed("rgsd-eval", seed, sample))
            for start in range(0, len(tasks), batch_size):
                chunk = prompts[start : start + batch_size]
                responses = sample_responses(
                    model, tokenizer, chunk, cfg.temperature, 1.0, cfg.max_new_tokens
                )
                for offset, ids in enumerate(responses):
                    task = tasks[start + offset]
                    text = decode_response(tokenizer, ids)
                    per_prompt[start + offset] += satisfaction(text, task.rubric) / cfg.samples
                    words.append(len(text.split()))
                    for criterion in task.rubric:
                        met[criterion.kind][0] += criterion_met(text, criterion)
                        met[criterion.kind][1] += 1
                    if sample == 0 and len(examples) < 3:
                        examples.append(
                            {
                                "prompt": task.prompt,
                                "rubric": [c.describe() for c in task.rubric],
                                "response": text,
                            }
                        )
    return {
        "satisfaction": sum(per_prompt) / len(per_prompt),
        "satisfaction_per_prompt": per_prompt,
        "words": sum(words) / len(words),
        "criteria": {kind: hit / total for kind, (hit, total) in sorted(met.items())},
        "n_responses": len(words),
        "examples": examples,
    }


def bootstrap_ci(
    values: Sequence[float], n_boot: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean over prompts (prompts are the sampling unit)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    arr = np.asarray(values, dtype=float)
    means = arr[rng.integers(0, len(arr), size=(n_boot, len(arr)))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)
