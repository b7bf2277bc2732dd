"""``tgrd teacher serve``: the local OpenAI-compatible teacher (judges synthetic instances).

    tgrd teacher serve --host 127.0.0.1 --port 8000 --answer-key runs/demo/synth/answer_key.jsonl \\
        teacher.local.latency_ms=200 teacher.local.fault_rate=0.3 teacher.local.noise=0.1

Serves POST /v1/chat/completions (with response_format), /v1/files and /v1/batches, plus
GET /stats. Runs until interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse

from tgrd.commands.common import add_config_arguments, config_from_args

HELP = "run the local OpenAI-compatible teacher server"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("serve",))
    parser.add_argument("--host", default=None, help="bind address (teacher.local.host)")
    parser.add_argument(
        "--port", type=int, default=None, help="port; 0 = any free (teacher.local.port)"
    )
    parser.add_argument(
        "--truth", default=None, help="truth file (content_hash → category, or synth truth.parquet)"
    )
    parser.add_argument(
        "--answer-key", default=None, help="synth answer_key.jsonl: judge by checking answers"
    )
    parser.add_argument(
        "--port-file", default=None, help="write the bound port here once listening"
    )
    add_config_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from tgrd.teacher.server import serve

    flags = {
        "host": args.host,
        "port": args.port,
        "truth": args.truth,
        "answer_key": args.answer_key,
    }
    overrides = [f"teacher.local.{k}={v}" for k, v in flags.items() if v is not None]
    cfg = config_from_args(args, overrides)
    serve(cfg.teacher.local, args.port_file)
    return 0
