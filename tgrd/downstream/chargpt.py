"""A tiny character-level GPT (the demo's downstream base model) with KV-cache greedy decoding.

    from tgrd.downstream.chargpt import CharGPT, CharVocab, GPTShape
    vocab = CharVocab()
    model = CharGPT(GPTShape(), vocab.size)
    ids, mask = vocab.encode_pairs([("Fig: cost 6, units 1. Unit cost?", "6/1=6")], 96)
    loss = model.loss(ids, mask)                      # next-token CE on the answer tokens only
    out = model.generate(vocab, ["Fig: cost 6, units 2. Unit cost?"], max_new=16)

About 110k parameters at the default shape (2 layers, width 64, 4 heads, context 96): small
enough that 150 fine-tuning steps on one thread take a few seconds (DESIGN.md §5). A sequence is
``BOS prompt SEP answer EOS``; the loss covers ``answer EOS`` only, the char-level analogue of
"loss on assistant tokens". Generation batches prompts of different lengths by left-padding them;
pads are masked out of attention and do not advance positions, so a prompt decodes the same alone
or in a batch, and the cached path equals the uncached one.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

PAD, BOS, SEP, EOS, UNK = 0, 1, 2, 3, 4
_SPECIALS = 5
# Printable ASCII and newline: everything the tiny synthetic tasks use. Other characters map to
# UNK (never silently dropped, so lengths stay faithful to the data).
_CHARS = "\n" + "".join(chr(c) for c in range(32, 127))


class CharVocab:
    """Fixed character vocabulary with the special ids PAD/BOS/SEP/EOS/UNK."""

    def __init__(self) -> None:
        self.stoi = {ch: i + _SPECIALS for i, ch in enumerate(_CHARS)}
        self.itos = {i: ch for ch, i in self.stoi.items()}
        self.size = _SPECIALS + len(_CHARS)

    def encode(self, text: str) -> list[int]:
        return [self.stoi.get(ch, UNK) for ch in text]

    def decode(self, ids: list[int]) -> str:
        return "".join(self.itos.get(i, "") for i in ids if i >= _SPECIALS)

    def encode_pairs(
        self, pairs: list[tuple[str, str]], block: int, answer_loss_only: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Right-padded ``(B, T)`` ids and a ``(B, T)`` loss mask over the *target* positions.

        ``mask[b, t]`` says whether predicting ``ids[b, t + 1]`` is trained (the last column is
        always False). Sequences longer than ``block + 1`` are cut at the end (a verbose answer
        loses its tail, the prompt is kept).
        """
        rows, masks = [], []
        for prompt, answer in pairs:
            p = [BOS, *self.encode(prompt), SEP]
            seq = (p + self.encode(answer) + [EOS])[: block + 1]
            start = len(p) - 1 if answer_loss_only else 0
            m = [start <= t < len(seq) - 1 for t in range(len(seq))]
            rows.append(seq)
            masks.append(m)
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), PAD, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.bool)
        for b, (r, m) in enumerate(zip(rows, masks, strict=True)):
            ids[b, : len(r)] = torch.tensor(r)
            mask[b, : len(m)] = torch.tensor(m)
        return ids, mask


@dataclass(frozen=True)
class GPTShape:
    n_layer: int = 2
    n_embd: int = 64
    n_head: int = 4
    block_size: int = 96


class Block(nn.Module):
    def __init__(self, shape: GPTShape) -> None:
        super().__init__()
        self.n_head = shape.n_head
        self.ln1 = nn.LayerNorm(shape.n_embd)
        self.qkv = nn.Linear(shape.n_embd, 3 * shape.n_embd)
        self.proj = nn.Linear(shape.n_embd, shape.n_embd)
        self.ln2 = nn.LayerNorm(shape.n_embd)
        self.mlp = nn.Sequential(
            nn.Linear(shape.n_embd, 4 * shape.n_embd),
            nn.GELU(),
            nn.Linear(4 * shape.n_embd, shape.n_embd),
        )

    def forward(
        self, x: torch.Tensor, attn_mask: torch.Tensor, cache: tuple | None
    ) -> tuple[torch.Tensor, tuple]:
        b, t, c = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
        # (B, T, C) -> (B, H, T, C/H)
        q, k, v = (z.view(b, t, self.n_head, c // self.n_head).transpose(1, 2) for z in (q, k, v))
        if cache is not None:
            k, v = torch.cat([cache[0], k], dim=2), torch.cat([cache[1], v], dim=2)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)  # (B, H, T, C/H)
        x = x + self.proj(y.transpose(1, 2).reshape(b, t, c))
        return x + self.mlp(self.ln2(x)), (k, v)


class CharGPT(nn.Module):
    """GPT-2-style decoder over characters; learned absolute positions."""

    def __init__(self, shape: GPTShape, vocab_size: int) -> None:
        super().__init__()
        self.shape = shape
        self.tok = nn.Embedding(vocab_size, shape.n_embd)
        self.pos = nn.Embedding(shape.block_size, shape.n_embd)
        self.blocks = nn.ModuleList(Block(shape) for _ in range(shape.n_layer))
        self.ln_f = nn.LayerNorm(shape.n_embd)
        self.head = nn.Linear(shape.n_embd, vocab_size, bias=False)
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear | nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def forward(
        self,
        ids: torch.Tensor,
        pos: torch.Tensor,
        attn_mask: torch.Tensor,
        caches: list | None = None,
    ) -> tuple[torch.Tensor, list]:
        """Logits ``(B, T, V)`` for ``ids`` ``(B, T)`` at positions ``pos`` ``(B, T)``.

        ``attn_mask`` is boolean ``(B, 1, T, S)`` (True = may attend) over the S = cached + T keys.
        """
        x = self.tok(ids) + self.pos(pos.clamp(max=self.shape.block_size - 1))
        new_caches = []
        for i, block in enumerate(self.blocks):
            x, kv = block(x, attn_mask, None if caches is None else caches[i])
            new_caches.append(kv)
        return self.head(self.ln_f(x)), new_caches

    def loss(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean next-token cross-entropy over the positions where ``mask`` is True."""
        t = ids.shape[1]
        pos = torch.arange(t).expand_as(ids)
        causal = torch.ones(t, t, dtype=torch.bool).tril()[None, None]
        logits, _ = self(ids, pos, causal)
        logits, targets = logits[:, :-1], ids[:, 1:]
        sel = mask[:, :-1]
        return F.cross_entropy(logits[sel], targets[sel])

    @torch.no_grad()
    def generate(
        self, vocab: CharVocab, prompts: list[str], max_new: int, use_cache: bool = True
    ) -> list[str]:
        """Greedy answers (text up to EOS) for each prompt, decoded as one left-padded batch."""
        if not prompts:
            return []
        enc = [[BOS, *vocab.encode(p), SEP] for p in prompts]
        # Keep room for the answer inside the context window (prompts are cut from the left).
        max_new = max(1, min(max_new, self.shape.block_size - 2))
        enc = [e[-(self.shape.block_size - max_new) :] for e in enc]
        width = max(len(e) for e in enc)
        ids = torch.full((len(enc), width), PAD, dtype=torch.long)
        valid = torch.zeros((len(enc), width), dtype=torch.bool)
        for b, e in enumerate(enc):
            ids[b, width - len(e) :] = torch.tensor(e)
            valid[b, width - len(e) :] = True
        pos = (valid.cumsum(1) - 1).clamp(min=0)
        out = torch.empty((len(enc), 0), dtype=torch.long)
        done = torch.zeros(len(enc), dtype=torch.bool)
        caches = None
        step_ids, step_pos = ids, pos
        for _ in range(max_new):
            t = ids.shape[1]
            if use_cache and caches is not None:
                # One new query per row attending to every valid key so far (itself included).
                mask = valid[:, None, None, :]
                logits, caches = self(step_ids, step_pos, mask, caches)
            else:
                causal = torch.ones(t, t, dtype=torch.bool).tril()
                # Pad queries attend to themselves only, so no softmax row is empty (NaN).
                mask = (causal & valid[:, None, :]) | torch.eye(t, dtype=torch.bool)
                logits, caches = self(ids, pos, mask[:, None], None)
            nxt = logits[:, -1].argmax(-1)  # (B,)
            nxt = torch.where(done, torch.full_like(nxt, PAD), nxt)
            out = torch.cat([out, nxt[:, None]], dim=1)
            done |= nxt == EOS
            if bool(done.all()):
                break
            step_ids, step_pos = nxt[:, None], pos[:, -1:] + 1
            ids = torch.cat([ids, step_ids], dim=1)
            pos = torch.cat([pos, step_pos], dim=1)
            valid = torch.cat([valid, torch.ones((len(enc), 1), dtype=torch.bool)], dim=1)
        texts = []
        for row in out.tolist():
            cut = row.index(EOS) if EOS in row else len(row)
            texts.append(vocab.decode(row[:cut]))
        return texts


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def fit(
    model: CharGPT,
    vocab: CharVocab,
    pairs: list[tuple[str, str]],
    *,
    steps: int,
    lr: float,
    batch_size: int,
    seed: int,
    answer_loss_only: bool = True,
) -> list[float]:
    """AdamW on random batches of ``(prompt, answer)`` pairs; returns the loss of every step.

    Batches are drawn with replacement from a ``random.Random(seed)`` stream, so a run is
    reproducible from its seed alone. Length bucketing is deliberately absent: with templated
    data, length tracks the template and bucketing hurt learning (DESIGN.md §5).
    """
    import random

    if not pairs:
        raise ValueError("cannot fit on an empty dataset")
    rng = random.Random(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    model.train()
    losses = []
    for _ in range(steps):
        batch = [pairs[rng.randrange(len(pairs))] for _ in range(batch_size)]
        ids, mask = vocab.encode_pairs(batch, model.shape.block_size, answer_loss_only)
        if not bool(mask.any()):  # every answer cut away: nothing to learn from this batch
            continue
        loss = model.loss(ids, mask)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    return losses
