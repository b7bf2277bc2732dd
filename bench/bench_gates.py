"""Gate throughput: vectorised kernel vs the per-record reference, and the Ray Data stage.

    .venv/bin/python bench/bench_gates.py [--records 84000] [--baseline-records 8000]

Builds a synthetic pool of realistic chat records (~1 kB each: a user turn plus an assistant
response whose sentences are drawn from real public text in ../shared/data, with ~12 % planted
defects: empty, repetitive, schema errors). Then, in one run:

1. the per-record Python gates (``gate_record``) on a subset — the straightforward baseline;
2. the vectorised kernel (``gate_table``) on the whole pool in 4,096-row batches, one thread;
3. the Ray Data stage (``ray.init`` + ``from_arrow`` + actor-pool ``map_batches`` + collect),
   wall time including Ray start.

Goals (issue 2): kernel >= 50k instances/s/core; Ray stage <= 10 s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import time
from pathlib import Path

import pyarrow as pa

from tgrd.config import GateConfig
from tgrd.gates import gate_dataset, gate_record, gate_table
from tgrd.ingest import MESSAGE_TYPE

SHARED = Path(
    os.environ.get("TGRD_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


def real_sentences() -> list[str]:
    """Sentences from real public text (Alpaca demo outputs, GSM8K solutions, OASST replies)."""
    texts: list[str] = []
    alpaca = SHARED / "llamafactory_demo" / "alpaca_en_demo.json"
    if alpaca.is_file():
        texts += [r["output"] for r in json.loads(alpaca.read_text())]
    gsm = SHARED / "gsm8k" / "train.jsonl"
    if gsm.is_file():
        texts += [json.loads(line)["answer"] for line in gsm.read_text().splitlines()[:3000]]
    sentences = [
        s.strip() for t in texts for s in re.split(r"(?<=[.!?\n])\s+", t) if len(s.strip()) > 20
    ]
    if not sentences:  # no shared data: a Zipf-ish vocabulary still gives natural repetition
        rng = random.Random(0)
        vocab = [
            "".join(rng.choices("etaoinshrdlucmfwyp", k=rng.randint(2, 9))) for _ in range(5000)
        ]
        sentences = [
            " ".join(rng.choices(vocab, weights=[1 / (i + 1) for i in range(5000)], k=14)) + "."
            for _ in range(20000)
        ]
    return sentences


def build_pool(n: int, seed: int = 0) -> pa.Table:
    rng = random.Random(seed)
    sentences = real_sentences()
    rows = []
    for i in range(n):
        question = " ".join(rng.choices(sentences, k=2))[:220]
        resp_parts, size = [], 0
        target = rng.randint(600, 1100)
        while size < target:
            s = rng.choice(sentences)
            resp_parts.append(s)
            size += len(s) + 1
        response = (" " if rng.random() < 0.7 else "\n").join(resp_parts)
        msgs = [{"role": "user", "content": question}, {"role": "assistant", "content": response}]
        kind = rng.random()
        if kind < 0.03:
            msgs[1]["content"] = rng.choice(["", "   ", "**"])
        elif kind < 0.07:
            msgs[1]["content"] = " ".join([rng.choice(sentences)] * rng.randint(4, 12))
        elif kind < 0.10:
            msgs[1]["content"] = "\n".join([rng.choice(sentences)] * rng.randint(3, 8))
        elif kind < 0.12:
            msgs = msgs[:1] if rng.random() < 0.5 else [msgs[1], msgs[0]]
        rows.append({"id": f"r{i}", "messages": msgs})
    schema = pa.schema([("id", pa.string()), ("messages", pa.list_(MESSAGE_TYPE))])
    return pa.Table.from_pylist(rows, schema=schema)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=84_000)
    parser.add_argument("--baseline-records", type=int, default=8_000)
    parser.add_argument("--batch-size", type=int, default=4096)
    args = parser.parse_args()
    pa.set_cpu_count(1)  # one core for the kernel figure: instances/s/core
    cfg = GateConfig()

    pool = build_pool(args.records)
    avg_bytes = pool.column("messages").nbytes / pool.num_rows
    print(f"pool: {pool.num_rows} records, {avg_bytes:.0f} bytes/record of message data")

    subset = pool.slice(0, args.baseline_records)
    msgs = subset.column("messages").to_pylist()
    t0 = time.perf_counter()
    reference = [gate_record(m, cfg) for m in msgs]
    base_s = time.perf_counter() - t0
    base_rate = len(msgs) / base_s

    t0 = time.perf_counter()
    reasons: list[str] = []
    for batch in pool.to_batches(max_chunksize=args.batch_size):
        reasons += gate_table(batch, cfg).column("gate_reason").to_pylist()
    kernel_s = time.perf_counter() - t0
    kernel_rate = pool.num_rows / kernel_s
    assert reasons[: len(reference)] == reference, "kernel disagrees with the reference"
    failed = sum(1 for r in reasons if r)

    import ray

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    t0 = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    init_s = time.perf_counter() - t0
    # Eight blocks by slicing (zero-copy), not repartition(): an all-to-all shuffle costs seconds.
    step = -(-pool.num_rows // 8)
    ds = ray.data.from_arrow([pool.slice(i, step) for i in range(0, pool.num_rows, step)])
    gated = gate_dataset(ds, GateConfig(actors=2, actor_num_cpus=0.5, batch_size=args.batch_size))
    ray_failed = sum(
        int((~b["gate_pass"]).sum()) for b in gated.iter_batches(batch_format="pandas")
    )
    ray_s = time.perf_counter() - t0
    ray.shutdown()
    assert ray_failed == failed, f"Ray stage failed {ray_failed} records, kernel {failed}"

    print(
        f"per-record reference : {base_rate:10,.0f} instances/s/core ({len(msgs)} records, {base_s:.2f} s)"
    )
    print(
        f"vectorised kernel    : {kernel_rate:10,.0f} instances/s/core ({pool.num_rows} records, {kernel_s:.2f} s)"
    )
    print(
        f"kernel / reference   : {kernel_rate / base_rate:10.1f}x   (goal: kernel >= 50,000/s/core)"
    )
    print(f"gate failures        : {failed} of {pool.num_rows} ({failed / pool.num_rows:.1%})")
    print(
        f"Ray Data gate stage  : {ray_s:10.2f} s wall incl. ray.init ({init_s:.2f} s), 2 actors x 0.5 CPU "
        f"(goal <= 10 s on 2 cores)"
    )


if __name__ == "__main__":
    main()
