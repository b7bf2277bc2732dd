"""Prompt rendering, sampling rollouts, and aligned student/teacher scoring batches.

The student sees ``student_template`` (no rubric); the teacher sees ``teacher_template`` with the
rubric rendered in. One sampled response is scored under both. Batches put the left-padded
prompt in columns [0, P) and the right-padded response in [P, P + R), so the hidden states that
predict response token j sit at column P - 1 + j for every row, whatever the prompt length:

    batch = pair_batch(prompt_ids, response_ids, pad_id)
    hidden = response_hidden(body, batch)          # (B, R, H)

    responses = sample_responses(model, tok, ["User: Any tips for sleep?\nAssistant:"], ...)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tgrd.rgsd.rubrics import RubricTask, render_rubric


def render_student(task: RubricTask, template: str) -> str:
    """The student's prompt: the task without its rubric."""
    return template.format(prompt=task.prompt)


def render_teacher(task: RubricTask, template: str) -> str:
    """The teacher's prompt: the same task with the rubric rendered into ``template``."""
    return template.format(prompt=task.prompt, rubric=render_rubric(task.rubric))


def encode(tokenizer, texts: list[str]) -> list[list[int]]:
    """Token ids without special tokens (templates carry their own structure)."""
    return [tokenizer.encode(t, add_special_tokens=False) for t in texts]


def left_pad(seqs: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, attention_mask), both (B, max_len), padded on the left for generation."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, width - len(s) :] = torch.tensor(s, dtype=torch.long)
        mask[i, width - len(s) :] = 1
    return ids, mask


@torch.no_grad()
def sample_responses(
    model,
    tokenizer,
    prompt_ids: list[list[int]],
    temperature: float = 1.0,
    top_p: float = 1.0,
    max_new_tokens: int = 48,
    do_sample: bool = True,
) -> list[list[int]]:
    """One sampled response per prompt, as token ids ending at (and including) EOS if produced.

    Randomness comes from torch's global generator: seed it before calling for reproducibility.
    """
    ids, mask = left_pad(prompt_ids, tokenizer.pad_token_id)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = model.generate(
        input_ids=ids.to(device),
        attention_mask=mask.to(device),
        do_sample=do_sample,
        temperature=temperature if do_sample else None,
        top_p=top_p if do_sample else None,
        top_k=0 if do_sample else None,  # full-vocabulary sampling; top_p is the only truncation
        max_new_tokens=max_new_tokens,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    model.train(was_training)
    responses = []
    for row in out[:, ids.shape[1] :].tolist():
        if tokenizer.eos_token_id in row:
            row = row[: row.index(tokenizer.eos_token_id) + 1]
        responses.append(row)
    return responses


def decode_response(tokenizer, response_ids: list[int]) -> str:
    """Response text without EOS/padding."""
    return tokenizer.decode(response_ids, skip_special_tokens=True).strip()


@dataclass
class PairBatch:
    """A prompt+response batch; responses start at column ``prompt_len`` in every row."""

    input_ids: torch.Tensor  # (B, P + R)
    attention_mask: torch.Tensor  # (B, P + R)
    position_ids: torch.Tensor  # (B, P + R)
    response_ids: torch.Tensor  # (B, R), pad where masked
    response_mask: torch.Tensor  # (B, R), 1 on response tokens
    prompt_len: int

    def to(self, device) -> PairBatch:
        moved = {k: v.to(device) for k, v in vars(self).items() if isinstance(v, torch.Tensor)}
        return PairBatch(**moved, prompt_len=self.prompt_len)


def pair_batch(
    prompt_ids: list[list[int]], response_ids: list[list[int]], pad_id: int
) -> PairBatch:
    """Left-pad prompts, right-pad responses, so response columns line up across rows."""
    if len(prompt_ids) != len(response_ids):
        raise ValueError(f"{len(prompt_ids)} prompts but {len(response_ids)} responses")
    if any(not r for r in response_ids):
        raise ValueError("empty response: every rollout needs at least one token")
    p_ids, p_mask = left_pad(prompt_ids, pad_id)
    width = max(len(r) for r in response_ids)
    r_ids = torch.full((len(response_ids), width), pad_id, dtype=torch.long)
    r_mask = torch.zeros((len(response_ids), width), dtype=torch.long)
    for i, r in enumerate(response_ids):
        r_ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
        r_mask[i, : len(r)] = 1
    attn = torch.cat([p_mask, r_mask], dim=1)
    # Positions count real tokens only, so left padding does not shift the rotary phases.
    pos = (attn.cumsum(dim=1) - 1).clamp(min=0)
    return PairBatch(torch.cat([p_ids, r_ids], 1), attn, pos, r_ids, r_mask, p_ids.shape[1])


def response_hidden(body, batch: PairBatch) -> torch.Tensor:
    """Final hidden states that predict each response token: (B, R, H).

    ``body`` is the decoder stack without the LM head (``Qwen2Model``), so no (B, T, V) logits
    are materialised here.
    """
    out = body(
        input_ids=batch.input_ids,
        attention_mask=batch.attention_mask,
        position_ids=batch.position_ids,
    )
    start = batch.prompt_len - 1
    return out.last_hidden_state[:, start : start + batch.response_ids.shape[1]]


def response_logits(model, batch: PairBatch) -> torch.Tensor:
    """Full-vocabulary logits over response positions: (B, R, V) (for SFT and checks)."""
    out = model(
        input_ids=batch.input_ids,
        attention_mask=batch.attention_mask,
        position_ids=batch.position_ids,
    )
    start = batch.prompt_len - 1
    return out.logits[:, start : start + batch.response_ids.shape[1]]
