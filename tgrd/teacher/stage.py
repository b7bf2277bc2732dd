"""The labeling stage: gate-passing records → teacher labels, in-process or as Ray Data actors.

    rows, summary = label_records(records, cfg.teacher)                  # one process, asyncio
    rows, summary = label_with_ray(records, cfg.teacher)                 # actor pool, map_batches
    write_outputs("runs/x/label", rows, summary)                         # labels.parquet, summary.json

Records are canonical dicts (``id``, ``messages``, ``task``) optionally carrying ``gate_pass`` /
``gate_reason`` from tgrd.gates: gate failures skip the teacher (status ``gate_fail``). Every
input record yields exactly one output row, labeled or with its failure reason. A progress line
(labeled / failed / cached, tokens, $, ETA) goes to stderr at most once a second.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from tgrd.teacher.client import LabelResult, TeacherClient
from tgrd.teacher.settings import TeacherConfig

LABEL_COLUMNS = (
    "id", "instance_hash", "task", "label", "status", "failure_reason", "gate_reason", "rubric_version",
    "model", "prompt_tokens", "completion_tokens", "cost_usd", "cached", "attempts",
)  # fmt: skip


class Progress:
    """One status line: counts by status, tokens, dollars and ETA."""

    def __init__(self, total: int, stream: Any = sys.stderr, every_s: float = 1.0):
        self.total, self.stream, self.every_s = total, stream, every_s
        self.counts: Counter[str] = Counter()
        self.tokens, self.usd = 0, 0.0
        self.t0 = self.last = time.monotonic()

    def update(self, status: str, tokens: int = 0, usd: float = 0.0) -> None:
        self.counts[status] += 1
        if status != "cached":
            self.tokens += tokens
            self.usd += usd
        if time.monotonic() - self.last >= self.every_s:
            self.emit()

    def line(self) -> str:
        done = sum(self.counts.values())
        elapsed = time.monotonic() - self.t0
        eta = (self.total - done) * elapsed / done if done else float("nan")
        c = self.counts
        return (
            f"[label] {done}/{self.total} labeled={c['labeled']} cached={c['cached']} "
            f"failed={c['failed']} budget={c['budget']} gate_fail={c['gate_fail']} "
            f"tokens={self.tokens} ${self.usd:.4f} ETA {eta:.0f}s"
        )

    def emit(self) -> None:
        self.last = time.monotonic()
        print(self.line(), file=self.stream, flush=True)


def _row(
    rec: dict[str, Any], res: LabelResult | None, client_meta: dict[str, str]
) -> dict[str, Any]:
    if res is None:  # gate failure: no teacher call
        from tgrd.records import content_hash

        res = LabelResult(id=str(rec["id"]), instance_hash=content_hash(rec["messages"]), label=None,
                          status="gate_fail", failure_reason=None)  # fmt: skip
    row = res.to_row()
    row.pop("rationale")
    row.update(client_meta, task=rec.get("task"), gate_reason=rec.get("gate_reason"))
    return {k: row.get(k) for k in LABEL_COLUMNS}


def _split(records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    passed = [r for r in records if r.get("gate_pass", True) is not False]
    failed = [r for r in records if r.get("gate_pass", True) is False]
    return passed, failed


async def _label_async(client: TeacherClient, records: list[dict[str, Any]],
                       progress: Progress | None) -> list[dict[str, Any]]:  # fmt: skip
    meta = {"rubric_version": client.rubric.version, "model": client.cfg.model}
    passed, failed = _split(records)

    def tick(res: LabelResult) -> None:
        if progress is not None:
            progress.update(res.status, res.prompt_tokens + res.completion_tokens, res.cost_usd)

    results = await client.label_many(passed, progress=tick)
    by_id = {id(r): res for r, res in zip(passed, results, strict=True)}
    if progress is not None:
        for _ in failed:
            progress.update("gate_fail")
    return [_row(rec, by_id.get(id(rec)), meta) for rec in records]


def label_records(records: list[dict[str, Any]], cfg: TeacherConfig, run_id: str | None = None,
                  progress: bool = True) -> tuple[list[dict[str, Any]], dict[str, Any]]:  # fmt: skip
    """Label in this process with asyncio; returns (rows in input order, summary dict)."""
    run_id = run_id or uuid.uuid4().hex[:12]
    t0 = time.monotonic()
    prog = Progress(len(records)) if progress else None

    async def go() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        async with TeacherClient(cfg, run_id=run_id) as client:
            rows = await _label_async(client, records, prog)
            return rows, client.summary()

    rows, stats = asyncio.run(go())
    if prog is not None:
        prog.emit()
    return rows, summarize(rows, stats, cfg, run_id, time.monotonic() - t0)


class LabelActor:
    """Ray Data actor: one event loop and one TeacherClient, reused across batches."""

    def __init__(self, cfg: dict[str, Any], run_id: str, limit_share: float):
        self.loop = asyncio.new_event_loop()
        self.client = TeacherClient(
            TeacherConfig.model_validate(cfg), run_id=run_id, limit_share=limit_share
        )
        self.reported: Counter[str] = Counter()

    def __del__(self) -> None:
        # Close the HTTP session while the loop still exists (else aiohttp warns at teardown).
        try:
            self.loop.run_until_complete(self.client.close())
            self.loop.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown: nothing left to clean
            pass

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        rows = self.loop.run_until_complete(_label_async(self.client, batch.to_pylist(), None))
        # Counters since the last batch ride along in the first row; the driver sums them.
        now = Counter(self.client.stats)
        delta = now - self.reported
        self.reported = now
        table = pa.Table.from_pylist(rows)
        stats = [json.dumps(dict(delta))] + [None] * (len(rows) - 1)
        return table.append_column("batch_stats", pa.array(stats, type=pa.string()))


def _placement(cfg: TeacherConfig) -> dict[str, Any]:
    """Ray options that keep the labeling actors on the driver's node when they must be there.

    Two cases: a teacher on the loopback interface (the local simulated teacher listens on
    127.0.0.1 of the driver's node), and a run mirrored to a URI (the label cache is a SQLite
    file in the driver's staging directory; actors elsewhere could not share it). Otherwise the
    actors spread over the CPU workers, sharing the cache on the run's shared filesystem.
    """
    from urllib.parse import urlparse

    import ray

    from tgrd.storage import active_mirror

    host = urlparse(cfg.base_url or "").hostname or ""
    if active_mirror() is None and host not in ("127.0.0.1", "localhost", "::1"):
        return {}
    # Every node carries its id as a label; a label selector is a hard constraint.
    return {"label_selector": {"ray.io/node-id": ray.get_runtime_context().get_node_id()}}


def label_with_ray(records: list[dict[str, Any]], cfg: TeacherConfig, run_id: str | None = None,
                   progress: bool = True) -> tuple[list[dict[str, Any]], dict[str, Any]]:  # fmt: skip
    """Label through a Ray Data actor pool (``cfg.actors`` actors sharing the rate limits)."""
    import pyarrow as pa
    import ray.data

    run_id = run_id or uuid.uuid4().hex[:12]
    t0 = time.monotonic()
    keep = ("id", "task", "messages", "gate_pass", "gate_reason")
    table = pa.Table.from_pylist([{k: r.get(k) for k in keep} for r in records])
    # Several blocks so every actor gets work; slicing avoids an all-to-all repartition.
    n_blocks = max(1, min(len(records), cfg.actors * 4))
    step = -(-len(records) // n_blocks)
    ds = ray.data.from_arrow([table.slice(i, step) for i in range(0, len(records), step)])
    ds = ds.map_batches(
        LabelActor,
        fn_constructor_kwargs={
            "cfg": cfg.model_dump(),
            "run_id": run_id,
            "limit_share": 1.0 / cfg.actors,
        },
        batch_format="pyarrow",
        batch_size=cfg.batch_size,
        compute=ray.data.ActorPoolStrategy(size=cfg.actors),
        num_cpus=cfg.actor_num_cpus,  # fractional: read tasks must not starve on 2 cores
        **_placement(cfg),
    )
    prog = Progress(len(records)) if progress else None
    out, stats = [], Counter()
    for batch in ds.iter_batches(batch_format="pyarrow", batch_size=None):
        for row in batch.to_pylist():
            row.pop("batch_stats", None)
            out.append(row)
            if prog is not None:
                prog.update(
                    row["status"], row["prompt_tokens"] + row["completion_tokens"], row["cost_usd"]
                )
        for blob in batch.column("batch_stats").to_pylist():
            if blob:
                stats.update(json.loads(blob))
    if prog is not None:
        prog.emit()
    order = {str(r["id"]): i for i, r in enumerate(records)}
    out.sort(key=lambda r: order.get(str(r["id"]), len(order)))
    stats["cost_usd"] = stats.pop("cost_micro_usd", 0) / 1e6
    return out, summarize(out, dict(stats), cfg, run_id, time.monotonic() - t0)


def summarize(rows: list[dict[str, Any]], stats: dict[str, Any], cfg: TeacherConfig, run_id: str,
              elapsed_s: float) -> dict[str, Any]:  # fmt: skip
    """summary.json: requests, retries, failures by reason, tokens and $ (this run's ledger)."""
    from tgrd.teacher.cache import LabelCache

    cache = LabelCache(cfg.cache_path)
    usd, tokens = cache.spent(run_id)
    cache.close()
    statuses = Counter(r["status"] for r in rows)
    failures = Counter(r["failure_reason"] for r in rows if r["status"] in ("failed", "budget"))
    return {
        "run_id": run_id,
        "model": cfg.model,
        "rubric_version": rows[0]["rubric_version"] if rows else None,
        "mode": cfg.mode,
        "instances": len(rows),
        "status": dict(statuses),
        "labels": dict(Counter(r["label"] for r in rows if r["label"] is not None)),
        "failures_by_reason": dict(failures),
        "gate_reasons": dict(Counter(r["gate_reason"] for r in rows if r["status"] == "gate_fail")),
        "requests": int(stats.get("requests", 0)),
        "retries": int(stats.get("retries", 0)),
        "retries_by_reason": {k[6:]: v for k, v in stats.items() if k.startswith("retry:")},
        "invalid_labels": {k[14:]: v for k, v in stats.items() if k.startswith("invalid_label:")},
        "prompt_tokens": int(stats.get("prompt_tokens", 0)),
        "completion_tokens": int(stats.get("completion_tokens", 0)),
        "ledger_tokens": tokens,
        "cost_usd": round(usd, 6),
        "budget_usd": cfg.budget_usd,
        "budget_tokens": cfg.budget_tokens,
        "stopped_by_budget": statuses.get("budget", 0) > 0,
        "complete": set(statuses) <= {"labeled", "cached", "gate_fail"},
        "elapsed_s": round(elapsed_s, 3),
    }


def write_outputs(out_dir: str | Path, rows: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    """DIR/labels.parquet (one row per input record) and DIR/summary.json."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    schema = pa.schema([
        ("id", pa.string()), ("instance_hash", pa.string()), ("task", pa.string()), ("label", pa.string()),
        ("status", pa.string()), ("failure_reason", pa.string()), ("gate_reason", pa.string()),
        ("rubric_version", pa.string()), ("model", pa.string()), ("prompt_tokens", pa.int64()),
        ("completion_tokens", pa.int64()), ("cost_usd", pa.float64()), ("cached", pa.bool_()),
        ("attempts", pa.int64()),
    ])  # fmt: skip
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), out / "labels.parquet")
    (out / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
