"""``tgrd adapt``: turn a public dataset into canonical records and benchmark items.

    tgrd adapt gsm8k ../shared/data/gsm8k/train.jsonl --out data/gsm8k_train
    tgrd adapt gsm8k-solutions ../shared/data/gsm8k/example_model_solutions.jsonl --out data/gsm8k_sol
    tgrd adapt humaneval ../shared/data/humaneval/HumanEval.jsonl.gz --out data/humaneval
    tgrd adapt tatqa ../shared/data/tatqa/tatqa_dataset_dev.json --out data/tatqa_dev

Writes ``DIR/records.jsonl`` (canonical records, ready for ``tgrd gate`` / ingest, to be used as a
candidate dataset or pool) and, where the source has gradable items, ``DIR/benchmark.jsonl``
(QA items {id, question, messages, answer, tolerance}, or HumanEval problems for
``tgrd evalcode``). ``humaneval`` reads any HumanEval-format file (MBPP from CodeT included).
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "convert GSM8K, HumanEval/MBPP or TAT-QA files into canonical records and benchmark items"
SOURCES = ("gsm8k", "gsm8k-solutions", "humaneval", "tatqa")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", choices=SOURCES, help="which dataset layout INPUT has")
    parser.add_argument("input", type=Path, help="the dataset file, as published")
    parser.add_argument("--out", required=True, type=Path, help="output directory")


def run(args: argparse.Namespace) -> int:
    from tgrd.adapters import gsm8k, humaneval, tatqa
    from tgrd.adapters.io import write_jsonl

    if args.overrides:
        raise ValueError(f"tgrd adapt takes no config overrides, got {args.overrides}")
    if not args.input.is_file():
        raise FileNotFoundError(f"{args.input}: no such file")
    bench = None
    if args.source == "gsm8k":
        records, bench = gsm8k.gsm8k_records(args.input), gsm8k.gsm8k_benchmark(args.input)
    elif args.source == "gsm8k-solutions":
        records = gsm8k.gsm8k_model_solution_records(args.input)
    elif args.source == "humaneval":
        bench = humaneval.load_problems(args.input)
        records = humaneval.problem_records(bench)
    else:
        records, bench = tatqa.tatqa_examples(args.input)
    n = write_jsonl(args.out / "records.jsonl", records)
    line = f"wrote {n} records to {args.out / 'records.jsonl'}"
    if bench is not None:
        line += f" and {write_jsonl(args.out / 'benchmark.jsonl', bench)} items to {args.out / 'benchmark.jsonl'}"
    print(line)
    return 0
