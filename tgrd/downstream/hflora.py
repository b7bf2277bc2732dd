"""Paper scale: LoRA SFT of a local causal LM on one candidate, then benchmark scoring.

    cfg.downstream.model = "hf_lora"
    cfg.downstream.hf_lora.model_path = "/mnt/models/Qwen3-1.7B-Base"   # local, never downloaded
    row = finetune_and_score_hf("code", cand_path, bench_path, cfg.downstream, seed=0)

The loss covers the assistant tokens only (prompt tokens are labelled -100). The prompt is the
tokenizer's chat template when it has one (instruction models), else ``prompt + "\\n"``; the
same rendering is used at evaluation, where the benchmark prompt is completed greedily in
left-padded batches and graded like the demo model's answers (tgrd/downstream/finetune.py).
Under Ray Tune each trial holds ``gpus_per_trial`` of a GPU; the model goes to CUDA when Ray
(or the machine) gives the process one.
"""

from __future__ import annotations

import math
import random
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tgrd.downstream import stable_seed
from tgrd.downstream.finetune import (
    benchmark_prompt,
    candidate_pairs,
    grade,
    load_benchmark,
    trial_result,
)

if TYPE_CHECKING:
    from tgrd.downstream.settings import DownstreamConfig


def render_prompt(tokenizer: Any, prompt: str) -> str:
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
    return prompt + "\n"


def sft_batch(tokenizer: Any, pairs: list[tuple[str, str]], max_length: int):
    """Right-padded ``input_ids``, ``attention_mask`` and ``labels`` (-100 off the answer)."""
    import torch

    rows, labels = [], []
    for prompt, answer in pairs:
        p = tokenizer(render_prompt(tokenizer, prompt), add_special_tokens=False)["input_ids"]
        a = tokenizer(answer, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        ids = (p + a)[:max_length]
        rows.append(ids)
        labels.append(([-100] * len(p) + a)[:max_length])
    width = max(len(r) for r in rows)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    lab = torch.full((len(rows), width), -100, dtype=torch.long)
    att = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (r, lb) in enumerate(zip(rows, labels, strict=True)):
        ids[i, : len(r)] = torch.tensor(r)
        lab[i, : len(lb)] = torch.tensor(lb)
        att[i, : len(r)] = 1
    return ids, att, lab


def load_lora_model(cfg: DownstreamConfig, seed: int):
    """(peft model, tokenizer) from ``hf_lora.model_path`` with a seeded LoRA init."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    h = cfg.hf_lora
    if not h.model_path or not Path(h.model_path).is_dir():
        raise FileNotFoundError(
            f"downstream.hf_lora.model_path: {h.model_path!r} is not a directory"
        )
    tok = AutoTokenizer.from_pretrained(h.model_path)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = getattr(torch, h.dtype) if device == "cuda" else torch.float32
    model = AutoModelForCausalLM.from_pretrained(h.model_path, dtype=dtype).to(device)
    torch.manual_seed(stable_seed("downstream-lora-init", seed))  # seeds vary the LoRA init
    lora = LoraConfig(
        r=h.lora_r,
        lora_alpha=h.lora_alpha,
        lora_dropout=h.lora_dropout,
        target_modules=h.target_modules,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora), tok


def generate_answers(
    model: Any, tok: Any, prompts: list[str], max_new: int, batch: int
) -> list[str]:
    """Greedy completions, left-padded batches, decoded without the prompt."""
    import torch

    tok.padding_side = "left"
    out = []
    for i in range(0, len(prompts), batch):
        enc = tok(
            [render_prompt(tok, p) for p in prompts[i : i + batch]],
            return_tensors="pt",
            padding=True,
            add_special_tokens=False,
        ).to(model.device)
        with torch.no_grad():
            gen = model.generate(
                **enc, max_new_tokens=max_new, do_sample=False, pad_token_id=tok.pad_token_id
            )
        out += tok.batch_decode(gen[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    return out


def finetune_and_score_hf(
    task: str,
    candidate_path: str | Path,
    benchmark_path: str | Path,
    cfg: DownstreamConfig,
    seed: int,
) -> dict[str, Any]:
    """LoRA fine-tune on one candidate and score the benchmark (same row as the demo path)."""
    import torch

    h = cfg.hf_lora
    pairs, n_bad = candidate_pairs(candidate_path)
    items = load_benchmark(benchmark_path, cfg.benchmark_limit)
    model, tok = load_lora_model(cfg, seed)
    steps = h.max_steps or math.ceil(h.epochs * len(pairs) / h.batch_size)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=h.lr)
    rng = random.Random(stable_seed("downstream-finetune", task, Path(candidate_path).stem, seed))
    order = list(range(len(pairs)))
    model.train()
    losses, t0 = [], time.perf_counter()
    for step in range(steps):
        if step * h.batch_size % len(pairs) < h.batch_size:
            rng.shuffle(order)  # a new epoch
        start = step * h.batch_size % len(pairs)
        batch = [pairs[order[(start + j) % len(pairs)]] for j in range(h.batch_size)]
        ids, att, lab = (t.to(model.device) for t in sft_batch(tok, batch, h.max_length))
        loss = model(input_ids=ids, attention_mask=att, labels=lab).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    t1 = time.perf_counter()
    answers = generate_answers(
        model, tok, [benchmark_prompt(it) for it in items], h.max_new_tokens, h.batch_size
    )
    passed = grade(task, items, answers, cfg.code_timeout_s)
    return trial_result(passed, items, pairs, n_bad, losses, answers, t0, t1)
