"""One ground-truth run: fine-tune a base model on one candidate, score the held-out benchmark.

    from tgrd.downstream.finetune import finetune_and_score
    row = finetune_and_score("finqa", "synth/finqa/candidates/cand_00.jsonl",
                             "synth/finqa/benchmark.jsonl", cfg.downstream, seed=0,
                             base_path=pretrained_base(run_dir / "pretrain", cfg.downstream, 0))
    row["score"]        # accuracy (finqa) or pass@1 (code) on the benchmark

Candidates are read through :func:`tgrd.ingest.read_records`, so malformed lines are quarantined
(and counted in the result) rather than crashing or silently vanishing. The prompt is every turn
before the last assistant turn; the answer is that turn; the loss covers the answer only. The
benchmark is scored greedily: finqa with :mod:`tgrd.qaeval` (tolerance stated on each item), code
by running prompt + completion + hidden tests in the sandbox (:mod:`tgrd.downstream.codebench`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tgrd.downstream import stable_seed
from tgrd.jsonl import read_json_objects

if TYPE_CHECKING:
    from tgrd.downstream.settings import DownstreamConfig


def split_turns(messages: list[dict[str, str]]) -> tuple[str, str]:
    """``(prompt, answer)``: the turns before the last assistant turn, and that turn."""
    last = max((i for i, m in enumerate(messages) if m.get("role") == "assistant"), default=None)
    if last is None:
        return "\n".join(m.get("content") or "" for m in messages), ""
    prompt = "\n".join(m.get("content") or "" for m in messages[:last])
    return prompt, messages[last].get("content") or ""


def candidate_pairs(path: str | Path) -> tuple[list[tuple[str, str]], int]:
    """``(prompt, answer)`` pairs of a candidate file and the number of quarantined rows."""
    from tgrd.config import IngestConfig
    from tgrd.ingest import read_records

    records, quarantine = read_records([path], IngestConfig())
    pairs = [split_turns(m) for m in records.column("messages").to_pylist()]
    if not pairs:
        raise ValueError(f"{path}: no usable records ({quarantine.num_rows} quarantined)")
    return pairs, quarantine.num_rows


def load_benchmark(path: str | Path, limit: int | None = None) -> list[dict[str, Any]]:
    """Benchmark items (JSONL); each needs ``messages`` (the prompt) plus its grading keys."""
    items = []
    for lineno, item in read_json_objects(path):
        if not isinstance(item.get("messages"), list):
            raise ValueError(f"{path}:{lineno}: benchmark item needs a 'messages' list")
        items.append(item)
        if limit is not None and len(items) >= limit:
            break
    if not items:
        raise ValueError(f"{path}: empty benchmark")
    return items


def benchmark_prompt(item: dict[str, Any]) -> str:
    return split_turns(item["messages"])[0]


def grade(
    task: str, items: list[dict[str, Any]], answers: list[str], timeout_s: float
) -> list[bool]:
    """Per-item correctness: sandboxed pass@1 for code, tolerant numeric match otherwise."""
    if task == "code" or "entry_point" in items[0]:
        from tgrd.downstream.codebench import evaluate_code

        return evaluate_code(items, answers, timeout_s=timeout_s)
    from tgrd.qaeval import score_item

    return [score_item(it, a) for it, a in zip(items, answers, strict=True)]


def trial_result(
    passed: list[bool],
    items: list[dict[str, Any]],
    pairs: list[tuple[str, str]],
    n_bad: int,
    losses: list[float],
    answers: list[str],
    t0: float,
    t1: float,
) -> dict[str, Any]:
    """One trial's report (both model paths): benchmark score, data counts, losses, timings.

    ``t0`` marks the start of fine-tuning and ``t1`` the start of evaluation (perf_counter).
    """
    return {
        "score": sum(passed) / len(passed),
        "n_benchmark": len(items),
        "n_train": len(pairs),
        "n_quarantined": n_bad,
        "train_loss_first": losses[0] if losses else None,
        "train_loss_last": losses[-1] if losses else None,
        "train_s": round(t1 - t0, 3),
        "eval_s": round(time.perf_counter() - t1, 3),
        "sample_answer": answers[0],
    }


def finetune_and_score(
    task: str,
    candidate_path: str | Path,
    benchmark_path: str | Path,
    cfg: DownstreamConfig,
    seed: int,
    base_path: str | Path,
) -> dict[str, Any]:
    """Fine-tune the cached char-GPT base on one candidate and score the benchmark.

    Returns:
        A JSON-ready dict: ``score``, ``n_benchmark``, ``n_train``, ``n_quarantined``,
        ``train_loss_first``/``_last``, ``train_s``, ``eval_s``.
    """
    import torch

    from tgrd.downstream.chargpt import fit
    from tgrd.downstream.pretrain import load_base

    c = cfg.chargpt
    torch.set_num_threads(cfg.threads_per_trial)
    pairs, n_bad = candidate_pairs(candidate_path)
    items = load_benchmark(benchmark_path, cfg.benchmark_limit)
    model, vocab = load_base(base_path)
    t0 = time.perf_counter()
    # crc32-derived, so the data order is the same in every process (hash() is salted).
    order_seed = stable_seed("downstream-finetune", task, Path(candidate_path).stem, seed)
    losses = fit(
        model,
        vocab,
        pairs,
        steps=c.finetune_steps,
        lr=c.finetune_lr,
        batch_size=c.batch_size,
        seed=order_seed,
        answer_loss_only=True,
    )
    t1 = time.perf_counter()
    answers = model.generate(vocab, [benchmark_prompt(it) for it in items], c.max_new_chars)
    passed = grade(task, items, answers, cfg.code_timeout_s)
    return trial_result(passed, items, pairs, n_bad, losses, answers, t0, t1)
