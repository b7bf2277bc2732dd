"""The SFT baseline: fine-tune the student on rubric-conditioned teacher samples, same budget.

Per step and prompt, the teacher (the same weights with the adapter disabled, rubric in the
prompt) samples one response, and the student (adapter on, no rubric) is trained on it with
cross-entropy. Same prompts per step, steps, batch size, optimizer and one sample per prompt
as RGSD, so the two differ only in where the tokens come from (teacher vs student) and the loss
(sequence-level imitation vs per-token divergence on the student's own rollout).

    history = train(model, sft_objective(tokenizer, cfg.train), tasks, cfg.train, "runs/x/sft/ckpt")
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from tgrd.rgsd.pretrain import sft_loss
from tgrd.rgsd.rollout import (
    decode_response,
    encode,
    render_student,
    render_teacher,
    sample_responses,
)
from tgrd.rgsd.rubrics import RubricTask, satisfaction
from tgrd.rgsd.settings import RgsdTrainConfig
from tgrd.rgsd.trainer import Objective


def sft_objective(tokenizer, cfg: RgsdTrainConfig) -> Objective:
    """Cross-entropy of the student on one fresh teacher sample per prompt."""

    def objective(model, tasks: Sequence[RubricTask]) -> tuple[torch.Tensor, dict[str, float]]:
        teacher_prompts = encode(
            tokenizer, [render_teacher(t, cfg.teacher_template) for t in tasks]
        )
        with model.disable_adapter():
            samples = sample_responses(
                model, tokenizer, teacher_prompts, cfg.temperature, cfg.top_p, cfg.max_new_tokens
            )
        texts = [decode_response(tokenizer, r) for r in samples]
        student_prompts = [render_student(t, cfg.student_template) for t in tasks]
        loss = sft_loss(model, tokenizer, student_prompts, [" " + x for x in texts])
        sat = sum(satisfaction(x, t.rubric) for x, t in zip(texts, tasks, strict=True)) / len(tasks)
        return loss, {"teacher_sample_satisfaction": sat}

    return objective
