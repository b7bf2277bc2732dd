"""Per-token divergences between student and teacher over the full vocabulary (pure torch).

RGSD minimises, on the response tokens of one on-policy rollout, a divergence between the
student's next-token distribution p_S and the rubric-conditioned teacher's p_T:

- ``reverse_kl`` (default): KL(p_S || p_T) = sum_v p_S (log p_S - log p_T), mode-seeking;
- ``forward_kl``: KL(p_T || p_S), mass-covering;
- ``jsd``: generalized JSD(beta) as in GKD (Agarwal et al. 2024) and TRL's
  ``generalized_jsd_loss``: with M = beta p_T + (1 - beta) p_S,
  JSD = beta KL(p_T || M) + (1 - beta) KL(p_S || M); beta = 0 is forward KL and beta = 1 is
  reverse KL by TRL's convention (the limits of the scaled form).

The loss is the mean over masked (response) tokens. :func:`chunked_divergence_loss` never holds
the (B, T, V) logits: it projects hidden states to logits chunk by chunk along the sequence, and
recomputes each chunk in backward (activation checkpointing), so peak memory is one chunk of
logits instead of the whole sequence. Teacher logits are computed under ``torch.no_grad``.

    loss = divergence_loss(student_logits, teacher_logits, mask, kind="reverse_kl")
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

DIVERGENCES = ("reverse_kl", "forward_kl", "jsd")


def token_divergence(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    kind: str = "reverse_kl",
    beta: float = 0.5,
) -> torch.Tensor:
    """Divergence per position, summed over the vocabulary.

    Args:
        student_logits: (..., V), carries the gradient.
        teacher_logits: (..., V), treated as a constant (detached here).
        kind: one of :data:`DIVERGENCES`.
        beta: JSD mixture weight of the teacher, in [0, 1].

    Returns:
        (...) divergences in nats, computed in float32 at least.
    """
    if kind not in DIVERGENCES:
        raise ValueError(f"divergence kind {kind!r}: expected one of {DIVERGENCES}")
    dtype = torch.promote_types(student_logits.dtype, torch.float32)
    log_s = F.log_softmax(student_logits.to(dtype), dim=-1)
    log_t = F.log_softmax(teacher_logits.detach().to(dtype), dim=-1)
    if kind == "jsd" and not 0.0 <= beta <= 1.0:
        raise ValueError(f"jsd beta {beta}: expected a value in [0, 1]")
    if kind == "forward_kl" or (kind == "jsd" and beta == 0.0):
        return (log_t.exp() * (log_t - log_s)).sum(-1)
    if kind == "reverse_kl" or (kind == "jsd" and beta == 1.0):
        return (log_s.exp() * (log_s - log_t)).sum(-1)
    # log M computed stably in log space; (2, ..., V) → (..., V).
    log_m = torch.logsumexp(
        torch.stack([log_t + math.log(beta), log_s + math.log(1.0 - beta)]), dim=0
    )
    kl_t = (log_t.exp() * (log_t - log_m)).sum(-1)
    kl_s = (log_s.exp() * (log_s - log_m)).sum(-1)
    return beta * kl_t + (1.0 - beta) * kl_s


def divergence_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    mask: torch.Tensor,
    kind: str = "reverse_kl",
    beta: float = 0.5,
) -> torch.Tensor:
    """Mean divergence over masked positions from full (B, T, V) logits (the unchunked form).

    Args:
        student_logits: (B, T, V).
        teacher_logits: (B, T, V).
        mask: (B, T), 1 on response tokens, 0 on padding.
    """
    per_token = token_divergence(student_logits, teacher_logits, kind, beta)  # (B, T)
    mask = mask.to(per_token.dtype)
    return (per_token * mask).sum() / mask.sum().clamp(min=1.0)


def chunked_divergence_loss(
    student_hidden: torch.Tensor,
    teacher_hidden: torch.Tensor,
    lm_head: torch.nn.Module,
    mask: torch.Tensor,
    kind: str = "reverse_kl",
    beta: float = 0.5,
    chunk_size: int = 32,
) -> torch.Tensor:
    """Same value as :func:`divergence_loss` on ``lm_head(hidden)``, chunked along the sequence.

    Args:
        student_hidden: (B, T, H) final hidden states of the student (with grad).
        teacher_hidden: (B, T, H) final hidden states of the teacher (no grad needed).
        lm_head: the output projection H → V shared by student and teacher (LoRA leaves it
            untouched, so one head serves both).
        mask: (B, T) response mask.
        chunk_size: positions per chunk; peak extra memory is about B * chunk_size * V floats.
    """
    if chunk_size <= 0:
        raise ValueError(f"chunk_size {chunk_size}: expected a positive integer")
    teacher_hidden = teacher_hidden.detach()
    mask = mask.to(torch.float32)
    denom = mask.sum().clamp(min=1.0)

    def chunk_sum(s_h: torch.Tensor, t_h: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            t_logits = lm_head(t_h)  # (B, C, V)
        per_token = token_divergence(lm_head(s_h), t_logits, kind, beta)  # (B, C)
        return (per_token * m).sum()

    total = student_hidden.new_zeros((), dtype=torch.float32)
    for start in range(0, student_hidden.shape[1], chunk_size):
        sl = slice(start, start + chunk_size)
        if not bool(mask[:, sl].any()):
            continue  # all padding: contributes nothing, skip the V-sized work
        args = (student_hidden[:, sl], teacher_hidden[:, sl], mask[:, sl])
        if torch.is_grad_enabled() and student_hidden.requires_grad:
            # Recompute this chunk's logits in backward instead of keeping (B, C, V) alive.
            total = total + checkpoint(chunk_sum, *args, use_reentrant=False)
        else:
            total = total + chunk_sum(*args)
    return total / denom
