"""``tgrd evalcode``: run HumanEval-style samples in the sandbox and report pass@k.

    tgrd evalcode --problems ../shared/data/humaneval/HumanEval.jsonl.gz \\
        --samples ../shared/data/codet_samples/HumanEval_codegen16B_temp0.8_topp0.95_num100_max300_code_solution.jsonl \\
        --out runs/evalcode/codegen16b --k 1,10,100 --workers 2 --timeout 5 --stop codex
    tgrd evalcode --problems ../shared/data/humaneval/HumanEval.jsonl.gz --samples canonical --out runs/he

Writes ``results.jsonl``, ``results.parquet`` and ``summary.json`` under ``--out`` and prints
the summary. See :mod:`tgrd.codeeval.problems` for the file layouts.
"""

from __future__ import annotations

import argparse
import json

HELP = "run code samples in the sandbox (HumanEval conventions) and report pass@k"


def _ks(text: str) -> tuple[int, ...]:
    try:
        ks = tuple(int(k) for k in text.split(",") if k.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--k wants comma-separated integers, got {text!r}"
        ) from None
    if not ks or min(ks) < 1:
        raise argparse.ArgumentTypeError(f"--k wants positive integers, got {text!r}")
    return ks


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--problems", required=True, help="problems JSONL(.gz): task_id, prompt, entry_point, test"
    )
    parser.add_argument(
        "--samples",
        required=True,
        help="samples JSONL(.gz) (HumanEval or CodeT layout) or 'canonical'",
    )
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument(
        "--k", type=_ks, default=(1, 10, 100), help="pass@k values (default: 1,10,100)"
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="parallel programs (default: one per core)"
    )
    parser.add_argument(
        "--timeout", type=float, default=5.0, help="wall-clock seconds per program (default: 5)"
    )
    parser.add_argument(
        "--memory-mb", type=int, default=1024, help="address-space limit per program (MiB)"
    )
    parser.add_argument(
        "--stop",
        choices=("none", "codex"),
        default="none",
        help="cut completions at Codex's stop sequences first, as CodeGen/CodeT figures do (default: none)",
    )
    parser.add_argument(
        "--force", action="store_true", help="re-run even if --out holds this evaluation"
    )


def run(args: argparse.Namespace) -> int:
    from tgrd.codeeval.humaneval import evaluate_files
    from tgrd.codeeval.pool import default_workers, print_progress
    from tgrd.codeeval.problems import CODEX_STOP
    from tgrd.codeeval.sandbox import SandboxLimits

    if args.timeout <= 0 or (args.workers is not None and args.workers < 1):
        raise ValueError("--timeout must be > 0 and --workers >= 1")
    summary = evaluate_files(
        args.problems,
        args.samples,
        args.out,
        ks=args.k,
        limits=SandboxLimits(timeout_s=args.timeout, memory_mb=args.memory_mb),
        workers=args.workers or default_workers(),
        stop=CODEX_STOP if args.stop == "codex" else (),
        progress=print_progress(),
        force=args.force,
    )
    print(json.dumps({k: v for k, v in summary.items() if k != "limits"}, indent=2))
    return 0
