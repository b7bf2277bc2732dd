"""``tgrd label``: teacher labels for gate-passing instances, with cache, budget and Batch API.

    tgrd label data/pool.jsonl --out runs/demo/label --teacher-url http://127.0.0.1:8000/v1 \\
        --model local-teacher --rubric 3way --mode online
    tgrd label runs/demo/gate --out runs/demo/label --local-teacher teacher.local.fault_rate=0.3

INPUT is any file or directory ingest reads (gates run first; gate failures skip the teacher) or
a ``tgrd gate`` output directory (its ``gated.parquet``). Writes DIR/labels.parquet (one row per
record), DIR/summary.json and DIR/config.yaml. Exit status 3 when some instances are left
unlabeled (budget reached, failures, batches still running): rerun the same command to finish;
stored labels are never paid for again.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tgrd.commands.common import add_config_arguments, config_from_args

HELP = "label instances with a rubric teacher (OpenAI-compatible API or the local teacher)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "input", help="JSONL/Parquet file or directory, or a `tgrd gate` output dir"
    )
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument(
        "--teacher-url", default=None, help="OpenAI base URL, e.g. http://127.0.0.1:8000/v1"
    )
    parser.add_argument("--model", default=None, help="teacher model name (teacher.model)")
    parser.add_argument("--rubric", default=None, help="3way | 5way | path to a rubric YAML")
    parser.add_argument("--mode", choices=("online", "batch"), default=None)
    parser.add_argument("--engine", choices=("local", "ray"), default="local",
                        help="asyncio in this process, or a Ray Data actor pool (teacher.actors)")  # fmt: skip
    parser.add_argument("--cache", default=None, help="label cache file (teacher.cache_path)")
    parser.add_argument("--budget-usd", type=float, default=None)
    parser.add_argument("--budget-tokens", type=int, default=None)
    parser.add_argument(
        "--no-gates", action="store_true", help="send every record to the teacher (llm-only)"
    )
    parser.add_argument("--no-wait", action="store_true", help="batch mode: submit and return")
    parser.add_argument("--local-teacher", action="store_true",
                        help="start the local teacher (teacher.local.*) for this run")  # fmt: skip
    add_config_arguments(parser)


def load_inputs(path: str, cfg: Any, gates: bool) -> tuple[list[dict[str, Any]], int]:
    """Canonical records with gate_pass/gate_reason, and the number of quarantined rows."""
    import pyarrow.parquet as pq

    p = Path(path)
    gated = p / "gated.parquet" if p.is_dir() else p
    if (
        gated.suffix == ".parquet"
        and gated.is_file()
        and "gate_pass" in pq.read_schema(gated).names
    ):
        table = pq.read_table(gated, columns=["id", "task", "messages", "gate_pass", "gate_reason"])
        quarantined = 0
    else:
        from tgrd.gates import gate_table
        from tgrd.ingest import read_records

        table, quarantine = read_records([path], cfg.ingest)
        quarantined = quarantine.num_rows
        if table.num_rows and gates:
            table = gate_table(table.select(["id", "task", "messages"]), cfg.gates)
    records = table.to_pylist()
    if not gates:
        for rec in records:
            rec.pop("gate_pass", None)
            rec.pop("gate_reason", None)
    for rec in records:
        if rec.get("gate_reason") == "":
            rec["gate_reason"] = None
    return records, quarantined


def run(args: argparse.Namespace) -> int:
    from tgrd.config import dump_config

    overrides = []
    for flag, key in (("teacher_url", "base_url"), ("model", "model"), ("rubric", "rubric"), ("mode", "mode"),
                      ("cache", "cache_path"), ("budget_usd", "budget_usd"), ("budget_tokens", "budget_tokens")):  # fmt: skip
        value = getattr(args, flag)
        if value is not None:
            overrides.append(f"teacher.{key}={value}")
    cfg = config_from_args(args, overrides)
    records, quarantined = load_inputs(args.input, cfg, gates=not args.no_gates)
    if not records:
        raise ValueError(f"{args.input}: no records to label ({quarantined} quarantined)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    server = None
    if args.local_teacher:
        from tgrd.teacher.server import LocalTeacher

        server = LocalTeacher(cfg.teacher.local).start()
        cfg.teacher.base_url = server.base_url
    try:
        rows, summary = _label(records, cfg, args)
    finally:
        if server is not None:
            server.stop()
    summary["quarantined_rows"] = quarantined
    from tgrd.teacher.stage import write_outputs

    write_outputs(out, rows, summary)
    (out / "config.yaml").write_text(dump_config(cfg))
    print(
        json.dumps(
            {k: summary[k] for k in ("instances", "status", "requests", "retries", "cost_usd")}
        )
    )
    if not summary["complete"]:
        print(
            f"tgrd label: {out}: not every instance is labeled; rerun to continue", file=sys.stderr
        )
        return 3
    return 0


def _label(records: list[dict[str, Any]], cfg: Any, args: argparse.Namespace) -> tuple[list, dict]:
    if cfg.teacher.mode == "batch":
        from tgrd.teacher.batch import label_batch

        return label_batch(records, cfg.teacher, wait=not args.no_wait)
    if args.engine == "ray":
        import ray

        from tgrd.teacher.stage import label_with_ray

        if not ray.is_initialized():
            ray.init(
                address=cfg.ray.address,
                num_cpus=cfg.ray.num_cpus,
                include_dashboard=cfg.ray.include_dashboard,
            )
        return label_with_ray(records, cfg.teacher)
    from tgrd.teacher.stage import label_records

    return label_records(records, cfg.teacher)
