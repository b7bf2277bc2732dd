"""Demo only: give the tiny random-init base a conditioning gap before RGSD.

A random-init model ignores the rubric, so there is nothing to distil. This brief full
fine-tune teaches it two behaviours from disjoint pre-training tasks: with the rubric in the
prompt it answers with a response that meets the rubric (:func:`tasks.good_response`); without
it, a generic answer that meets each criterion only by chance (:func:`tasks.generic_response`).
The result stands in for a pretrained instruction model, which follows a rubric it is shown
better than one it is not (the paper's 30-45 point gap). It is a stand-in: the demo's numbers
describe this synthetic setting, not Qwen.

    base = build_base_model(cfg.model, tok)
    losses = pretrain_base(base, tok, generate_tasks(1200, 0, "pretrain"), cfg)
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from tgrd.rgsd.rollout import encode, pair_batch, render_student, render_teacher, response_logits
from tgrd.rgsd.rubrics import RubricTask
from tgrd.rgsd.settings import RgsdConfig
from tgrd.rgsd.tasks import generic_response, good_response, stable_seed


def pretrain_examples(
    tasks: Sequence[RubricTask], cfg: RgsdConfig, seed: int = 0
) -> list[tuple[str, str]]:
    """(prompt, response) pairs: rubric prompt → good answer, plain prompt → generic answer."""
    rng = random.Random(stable_seed("rgsd-pretrain", seed))
    tcfg = cfg.train
    examples = []
    for task in tasks:
        examples.append(
            (render_teacher(task, tcfg.teacher_template), " " + good_response(task, rng))
        )
        examples.append(
            (render_student(task, tcfg.student_template), " " + generic_response(task, rng))
        )
    return examples


def sft_loss(model, tokenizer, prompts: list[str], responses: list[str]) -> torch.Tensor:
    """Mean cross-entropy on response tokens (EOS included) given the prompts."""
    device = next(model.parameters()).device
    prompt_ids = encode(tokenizer, prompts)
    response_ids = [ids + [tokenizer.eos_token_id] for ids in encode(tokenizer, responses)]
    batch = pair_batch(prompt_ids, response_ids, tokenizer.pad_token_id).to(device)
    logits = response_logits(model, batch)  # (B, R, V)
    mask = batch.response_mask.bool()
    return F.cross_entropy(logits[mask].float(), batch.response_ids[mask])


def pretrain_base(
    model, tokenizer, tasks: Sequence[RubricTask], cfg: RgsdConfig, seed: int = 0, log=None
) -> list[float]:
    """Full fine-tune of ``model`` in place for ``cfg.pretrain.steps``; returns the losses."""
    examples = pretrain_examples(tasks, cfg, seed)
    pcfg = cfg.pretrain
    optimizer = torch.optim.AdamW(model.parameters(), lr=pcfg.lr, weight_decay=0.01)
    # Linear warm-up then cosine decay: stable on a random init, converged at the end.
    warmup = max(1, pcfg.steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: (
            min(1.0, (s + 1) / warmup)
            * 0.5
            * (1 + torch.cos(torch.tensor(torch.pi * s / max(1, pcfg.steps))).item())
        ),
    )
    rng = random.Random(stable_seed("rgsd-pretrain-batches", seed))
    torch.manual_seed(stable_seed("rgsd-pretrain-init", seed))
    model.train()
    losses = []
    for step in range(pcfg.steps):
        batch = rng.sample(examples, min(pcfg.batch_size, len(examples)))
        loss = sft_loss(model, tokenizer, [p for p, _ in batch], [r for _, r in batch])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        losses.append(float(loss.detach()))
        if log is not None and (step + 1) % 50 == 0:
            log({"pretrain_step": step + 1, "loss": losses[-1]})
    model.eval()
    return losses
