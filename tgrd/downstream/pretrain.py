"""Pre-train the demo's downstream base model once per seed and cache it in the run directory.

    from tgrd.downstream.pretrain import pretrained_base
    path = pretrained_base(run_dir / "pretrain", cfg.downstream, seed=0)   # trains or reuses

The paper fine-tunes Qwen3-1.7B-Base, a model that already knows language and arithmetic; the
fine-tune then moves it up or down according to the candidate's quality. The stand-in here is a
char GPT pre-trained on a *generic corpus*: correct instances of every task drawn from the
synthetic generators (tgrd/synth) under a seed disjoint from the benchmark's and the candidates'.
One base per fine-tuning seed, so that seeds vary the initialisation and not only the data order
(seeds that only reorder data understate noise, DESIGN.md §5). A base is keyed by a fingerprint
of the settings; a changed setting trains a new one, an unchanged one is loaded.
"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path
from typing import TYPE_CHECKING

from tgrd.downstream import stable_seed

if TYPE_CHECKING:
    from tgrd.downstream.settings import DownstreamConfig


def generic_corpus(tasks: list[str], n: int, seed: int) -> list[tuple[str, str]]:
    """``n`` correct ``(prompt, answer)`` pairs, interleaved over ``tasks`` (tiny difficulty)."""
    from tgrd.synth.code_tasks import make_code_problem
    from tgrd.synth.finqa_tasks import make_finqa_problem

    rng = random.Random(stable_seed("downstream-pretrain-corpus", seed))
    makers = {
        "code": lambda: make_code_problem(rng, "tiny"),
        "finqa": lambda: make_finqa_problem(rng, "tiny", 0.01, 0.001),
    }
    unknown = [t for t in tasks if t not in makers]
    if unknown:
        raise ValueError(f"downstream.tasks: no generic corpus for task(s) {unknown}")
    out = []
    for i in range(n):
        p = makers[tasks[i % len(tasks)]]()
        out.append((p.prompt, p.clean))
    return out


def base_key(cfg: DownstreamConfig, seed: int) -> str:
    """File stem of the cached base: the seed and a fingerprint of what shapes the base."""
    from tgrd.rundir import fingerprint

    c = cfg.chargpt
    settings = {
        "tasks": sorted(cfg.tasks),
        "shape": [c.n_layer, c.n_embd, c.n_head, c.block_size],
        "pretrain": [c.pretrain_examples, c.pretrain_steps, c.pretrain_lr, c.batch_size],
        "seed": seed,
    }
    return f"base_seed{seed}_{fingerprint(settings)}"


def pretrained_base(cache_dir: str | Path, cfg: DownstreamConfig, seed: int) -> Path:
    """Path of the pre-trained base for ``seed``, training it first if it is not cached.

    Written atomically (temporary file, then rename), so concurrent callers and a killed run
    never leave a half-written base behind.
    """
    import torch

    from tgrd.downstream.chargpt import CharGPT, CharVocab, GPTShape, fit

    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"{base_key(cfg, seed)}.pt"
    if path.is_file():
        return path
    c = cfg.chargpt
    torch.set_num_threads(cfg.threads_per_trial)
    torch.manual_seed(stable_seed("downstream-base-init", seed))
    vocab = CharVocab()
    model = CharGPT(GPTShape(c.n_layer, c.n_embd, c.n_head, c.block_size), vocab.size)
    corpus = generic_corpus(cfg.tasks, c.pretrain_examples, seed)
    t0 = time.perf_counter()
    # Plain language modelling on the generic corpus: every character is a target.
    losses = fit(
        model,
        vocab,
        corpus,
        steps=c.pretrain_steps,
        lr=c.pretrain_lr,
        batch_size=c.batch_size,
        seed=stable_seed("downstream-base-order", seed),
        answer_loss_only=False,
    )
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    torch.save(
        {
            "state_dict": model.state_dict(),
            "shape": list(GPTShape(c.n_layer, c.n_embd, c.n_head, c.block_size).__dict__.values()),
        },
        tmp,
    )
    os.replace(tmp, path)
    summary = {
        "seed": seed,
        "steps": c.pretrain_steps,
        "seconds": time.perf_counter() - t0,
        "first_loss": losses[0] if losses else None,
        "last_loss": losses[-1] if losses else None,
    }
    path.with_suffix(".json").write_text(json.dumps(summary, indent=2))
    return path


def load_base(path: str | Path):
    """(model, vocab) from a cached base file."""
    import torch

    from tgrd.downstream.chargpt import CharGPT, CharVocab, GPTShape

    blob = torch.load(path, map_location="cpu", weights_only=True)
    vocab = CharVocab()
    model = CharGPT(GPTShape(*blob["shape"]), vocab.size)
    model.load_state_dict(blob["state_dict"])
    model.eval()
    return model, vocab
