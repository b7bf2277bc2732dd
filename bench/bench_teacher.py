"""Teacher throughput: fraction of a provider's RPM/TPM limit reached, vs a sequential client.

    python bench/bench_teacher.py                 # ~1 minute on 2 cores
    python bench/bench_teacher.py --seconds 20 --rpm 3000
    python bench/bench_teacher.py --ray-actors 2     # also: ceiling of the Ray Data stage

Starts the local teacher (200 ms latency) enforcing an RPM or TPM limit with 429s, and labels
fresh instances with TeacherClient configured with the same limit. Reports, in the same run:
the achieved fraction of the limit in steady state (goal ≥ 0.95; the first ``warmup`` seconds,
which include the limiter's burst, are excluded), the speedup over a sequential client
(concurrency 1) against the same server, and the ceiling in labels/s with no limit, with the
200 ms latency and with none (client CPU bound), on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from tgrd.teacher.client import TeacherClient
from tgrd.teacher.server import LocalTeacher
from tgrd.teacher.settings import LocalTeacherConfig, TeacherConfig


def make_records(n: int, tag: str) -> list[dict]:
    out = []
    for i in range(n):
        q = f"Revenue was {100 + i % 900} and costs were {i % 97} in quarter {tag}-{i}. What is the profit?"
        a = f"Profit = {100 + i % 900} - {i % 97} = {100 + i % 900 - i % 97}."
        out.append({"id": f"{tag}-{i}", "task": "finqa", "messages": [{"role": "user", "content": q},
                                                                       {"role": "assistant", "content": a}]})  # fmt: skip
    return out


def run_client(srv: LocalTeacher, records: list[dict], **kw) -> tuple[list[float], dict, float]:
    """Label ``records``; returns completion times (s since start), client stats, wall time."""
    cache_dir = tempfile.mkdtemp(prefix="bench-teacher-")
    cfg = TeacherConfig(base_url=srv.base_url, model="local-teacher", rubric="3way",
                        cache_path=str(Path(cache_dir) / "c.sqlite"), timeout_s=30, **kw)  # fmt: skip
    done: list[float] = []

    async def go() -> dict:
        async with TeacherClient(cfg) as client:
            t0 = time.monotonic()
            results = await client.label_many(
                records, progress=lambda r: done.append(time.monotonic() - t0)
            )
            assert all(r.status == "labeled" for r in results), {r.failure_reason for r in results}
            return client.summary()

    t = time.monotonic()
    stats = asyncio.run(go())
    return done, stats, time.monotonic() - t


def steady_rate(done: list[float], warmup: float) -> float:
    window = [t for t in done if t >= warmup]
    return (len(window) - 1) / (window[-1] - window[0]) if len(window) > 1 else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0, help="target length of each limited run")
    ap.add_argument("--rpm", type=float, default=2400.0)
    ap.add_argument("--tpm", type=float, default=300_000.0)
    ap.add_argument("--latency-ms", type=float, default=200.0)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--ray-actors", type=int, default=0, help="also measure the Ray stage ceiling")
    args = ap.parse_args()

    print(f"local teacher latency {args.latency_ms:.0f} ms; limits enforced by the server with 429")
    # RPM-bound: the client is told the same limit it is held to.
    with LocalTeacher(LocalTeacherConfig(latency_ms=args.latency_ms, rpm=args.rpm)) as srv:
        n = int(args.rpm / 60 * args.seconds)
        done, stats, wall = run_client(
            srv, make_records(n, "rpm"), rpm=args.rpm, tpm=None, concurrency=128
        )
        rate = steady_rate(done, args.warmup)
        limited = srv.stats()["counts"].get("limited", 0)
        print(f"RPM limit {args.rpm:.0f}/min = {args.rpm / 60:.1f} req/s: {n} labels in {wall:.1f}s, "
              f"steady {rate:.2f} req/s -> {rate / (args.rpm / 60):.3f} of the limit; 429s seen: {limited}")  # fmt: skip
        seq_n = max(10, int(2.0 / (args.latency_ms / 1000)))
        sdone, _, swall = run_client(
            srv, make_records(seq_n, "seq"), rpm=args.rpm, tpm=None, concurrency=1
        )
        seq_rate = seq_n / swall
        print(
            f"sequential client (concurrency 1): {seq_rate:.2f} labels/s -> speedup x{rate / seq_rate:.1f}"
        )
    # TPM-bound.
    with LocalTeacher(LocalTeacherConfig(latency_ms=args.latency_ms, tpm=args.tpm)) as srv:
        probe_done, probe, _ = run_client(
            srv, make_records(5, "probe"), rpm=None, tpm=args.tpm, concurrency=1
        )
        tok_per_req = (probe["prompt_tokens"] + probe["completion_tokens"]) / 5
        n = int(args.tpm / 60 / tok_per_req * args.seconds)
        done, stats, wall = run_client(
            srv, make_records(n, "tpm"), rpm=None, tpm=args.tpm, concurrency=128
        )
        rate = steady_rate(done, args.warmup) * tok_per_req
        limited = srv.stats()["counts"].get("limited", 0)
        print(f"TPM limit {args.tpm:.0f}/min = {args.tpm / 60:.0f} tok/s (~{tok_per_req:.0f} tok/label): "
              f"{n} labels in {wall:.1f}s, steady {rate:.0f} tok/s -> {rate / (args.tpm / 60):.3f} of the limit; "
              f"429s seen: {limited}")  # fmt: skip
    # Ceilings without limits.
    for latency in (args.latency_ms, 0.0):
        with LocalTeacher(LocalTeacherConfig(latency_ms=latency)) as srv:
            n = 1500
            done, _, wall = run_client(
                srv, make_records(n, f"ceil{latency}"), rpm=None, tpm=None, concurrency=256
            )
            print(
                f"ceiling, no limit, latency {latency:.0f} ms, concurrency 256, one process: {n / wall:.0f} labels/s"
            )
    if args.ray_actors:
        ray_ceiling(args)


def ray_ceiling(args: argparse.Namespace) -> None:
    """Labels/s of the Ray Data stage (several actors), Ray start-up excluded."""
    import os

    import ray

    from tgrd.teacher.stage import label_with_ray

    os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "1")
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    with LocalTeacher(LocalTeacherConfig(latency_ms=args.latency_ms)) as srv:
        for tag, n in (("warm", 200), ("ray", 3000)):  # the first run pays actor start-up
            cfg = TeacherConfig(base_url=srv.base_url, model="local-teacher", rubric="3way", rpm=None, tpm=None,
                                cache_path=str(Path(tempfile.mkdtemp()) / "c.sqlite"), concurrency=256,
                                actors=args.ray_actors, batch_size=500)  # fmt: skip
            t = time.monotonic()
            rows, _ = label_with_ray(make_records(n, tag), cfg, progress=False)
            wall = time.monotonic() - t
        assert all(r["status"] == "labeled" for r in rows)
        print(f"ceiling, no limit, latency {args.latency_ms:.0f} ms, Ray stage with {args.ray_actors} actors: "
              f"{n / wall:.0f} labels/s (incl. Ray Data scheduling)")  # fmt: skip
    ray.shutdown()


if __name__ == "__main__":
    main()
