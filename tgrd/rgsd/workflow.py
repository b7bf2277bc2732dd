"""The RGSD workflow end to end: data → base → RGSD student → SFT baseline → evaluation → report.

    tgrd rgsd --config configs/rgsd_demo.yaml --out runs/rgsd_demo      # CLI
    python jobs/rgsd.py --config configs/rgsd_smoke.yaml                # Ray job entry point

Writes under ``out``: ``config.yaml``, ``versions.json``, ``data/{train,eval}.jsonl``, ``base/``
(tokenizer + base model), ``rgsd/checkpoints/``, ``sft/checkpoints/``, ``metrics.json``,
``report.md`` and ``*.png``. Stages that already finished are not redone: the base is reloaded,
training resumes from (or stops at) its latest checkpoint, so a rerun only re-evaluates.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tgrd.config import Config, dump_config
from tgrd.rgsd.rubrics import read_tasks, write_tasks
from tgrd.rgsd.tasks import generate_tasks


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for name in ("tgrd", "torch", "transformers", "peft", "ray", "tokenizers"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "absent"
    return out


def prepare_data(cfg: Config, out: Path) -> tuple[Path, Path]:
    """Copy-validate the configured JSONL tasks, or generate them; returns (train, eval) paths."""
    dcfg = cfg.rgsd.data
    paths = []
    for split, src, n in (
        ("train", dcfg.train_path, dcfg.n_train),
        ("eval", dcfg.eval_path, dcfg.n_eval),
    ):
        tasks = read_tasks(src) if src is not None else generate_tasks(n, dcfg.seed, split)
        dest = out / "data" / f"{split}.jsonl"
        write_tasks(tasks, dest)
        paths.append(dest)
    return paths[0], paths[1]


def prepare_base(cfg: Config, out: Path, log: Callable[[dict], None]) -> Path:
    """Build the tokenizer and base model (pre-trained for the demo) into ``out/base``."""
    from tgrd.rgsd.model import build_base_model, build_tokenizer, save_base
    from tgrd.rgsd.pretrain import pretrain_base, pretrain_examples
    from tgrd.rgsd.rollout import render_student, render_teacher

    base_dir = out / "base"
    if (base_dir / "config.json").exists():
        return base_dir
    rcfg = cfg.rgsd
    pre_tasks = (
        generate_tasks(rcfg.data.n_pretrain, rcfg.data.seed, "pretrain")
        if rcfg.data.n_pretrain
        else []
    )
    examples = pretrain_examples(pre_tasks, rcfg, cfg.run.seed)
    corpus = [p + r for p, r in examples]
    for path in (out / "data" / "train.jsonl", out / "data" / "eval.jsonl"):
        for task in read_tasks(path):
            corpus += [
                render_student(task, rcfg.train.student_template),
                render_teacher(task, rcfg.train.teacher_template),
            ]
    tokenizer = build_tokenizer(rcfg.model, corpus)
    model = build_base_model(rcfg.model, tokenizer, seed=cfg.run.seed)
    if rcfg.model.base_path is None and rcfg.pretrain.steps > 0 and pre_tasks:
        start = time.perf_counter()
        losses = pretrain_base(model, tokenizer, pre_tasks, rcfg, cfg.run.seed, log=log)
        log(
            {
                "stage": "pretrain",
                "seconds": round(time.perf_counter() - start, 1),
                "final_loss": losses[-1],
            }
        )
        (out / "pretrain_losses.json").write_text(json.dumps(losses))
    save_base(model, tokenizer, base_dir)
    return base_dir


def _student(base_dir: Path, cfg: Config):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tgrd.rgsd.model import attach_lora

    tokenizer = AutoTokenizer.from_pretrained(str(base_dir))
    model = attach_lora(
        AutoModelForCausalLM.from_pretrained(str(base_dir)), cfg.rgsd.lora, seed=cfg.run.seed
    )
    return model, tokenizer


def train_rgsd(
    cfg: Config, out: Path, base_dir: Path, train_path: Path, log: Callable[[dict], None]
):
    """Train the RGSD student (plain loop or Ray Train); returns (model, tokenizer, history)."""
    from tgrd.rgsd.trainer import latest_checkpoint, load_checkpoint, rgsd_objective, train

    rcfg = cfg.rgsd
    model, tokenizer = _student(base_dir, cfg)
    ckpt_dir = out / "rgsd" / "checkpoints"
    start = time.perf_counter()
    if rcfg.train.use_ray:
        import ray

        from tgrd.rgsd.distributed import fit_with_ray

        if not ray.is_initialized():
            ray.init(
                address=cfg.ray.address,
                num_cpus=cfg.ray.num_cpus,
                include_dashboard=cfg.ray.include_dashboard,
            )
        fit_with_ray(rcfg, base_dir, train_path, out / "rgsd", seed=cfg.run.seed)
    else:
        tasks = read_tasks(train_path)
        train(
            model,
            rgsd_objective(tokenizer, rcfg.train),
            tasks,
            rcfg.train,
            ckpt_dir,
            cfg.run.seed,
            log=log,
        )
    _, history = load_checkpoint(latest_checkpoint(ckpt_dir), model)
    log({"stage": "rgsd", "seconds": round(time.perf_counter() - start, 1)})
    return model, tokenizer, history


def train_sft(
    cfg: Config, out: Path, base_dir: Path, train_path: Path, log: Callable[[dict], None]
):
    """Train the SFT baseline with the same budget; returns (model, history)."""
    from tgrd.rgsd.sft import sft_objective
    from tgrd.rgsd.trainer import latest_checkpoint, load_checkpoint, train

    model, tokenizer = _student(base_dir, cfg)
    ckpt_dir = out / "sft" / "checkpoints"
    start = time.perf_counter()
    train(
        model,
        sft_objective(tokenizer, cfg.rgsd.train),
        read_tasks(train_path),
        cfg.rgsd.train,
        ckpt_dir,
        cfg.run.seed,
        log=log,
    )
    _, history = load_checkpoint(latest_checkpoint(ckpt_dir), model)
    log({"stage": "sft", "seconds": round(time.perf_counter() - start, 1)})
    return model, history


def run_rgsd(
    cfg: Config, out: str | Path, log: Callable[[dict], None] | None = None
) -> dict[str, Any]:
    """Run the whole workflow into ``out``; returns the metrics written to ``metrics.json``."""
    import torch

    from tgrd.rgsd.evaluate import evaluate_condition
    from tgrd.rgsd.report import write_report

    log = log or (lambda row: print(json.dumps(row), flush=True))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(dump_config(cfg))
    (out / "versions.json").write_text(json.dumps(_versions(), indent=2))
    rcfg = cfg.rgsd
    torch.set_num_threads(rcfg.train.threads)
    started = time.perf_counter()
    train_path, eval_path = prepare_data(cfg, out)
    base_dir = prepare_base(cfg, out, log)
    rgsd_model, tokenizer, rgsd_history = train_rgsd(cfg, out, base_dir, train_path, log)
    eval_tasks = read_tasks(eval_path)
    student_t, teacher_t = rcfg.train.student_template, rcfg.train.teacher_template

    def evaluate(model, template, **kw):
        return evaluate_condition(
            model, tokenizer, eval_tasks, template, rcfg.eval, seed=cfg.run.seed, **kw
        )

    start = time.perf_counter()
    conditions = {
        "base_without_rubric": evaluate(rgsd_model, student_t, adapter=False),
        "base_with_rubric": evaluate(rgsd_model, teacher_t, with_rubric=True, adapter=False),
        "rgsd": evaluate(rgsd_model, student_t),
    }
    histories = {"rgsd": rgsd_history}
    if rcfg.eval.sft_baseline:
        sft_model, histories["sft"] = train_sft(cfg, out, base_dir, train_path, log)
        conditions["sft"] = evaluate(sft_model, student_t)
    log({"stage": "evaluate", "seconds": round(time.perf_counter() - start, 1)})
    metrics = {
        "conditions": conditions,
        "conditioning_gap": conditions["base_with_rubric"]["satisfaction"]
        - conditions["base_without_rubric"]["satisfaction"],
        "n_eval_prompts": len(eval_tasks),
        "seconds": round(time.perf_counter() - started, 1),
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    (out / "history.json").write_text(json.dumps(histories))
    write_report(metrics, histories, out, cfg)
    return metrics
