"""Batch API mode: JSONL requests → files.create → batches.create → poll → merge into the cache.

    rows, summary = label_batch(records, cfg.teacher)               # submit, wait, merge
    rows, summary = label_batch(records, cfg.teacher, wait=False)   # submit and return
    # a later call (any process) first polls the batches still open for (model, rubric version)
    # and merges their results, so submitted work is never paid for twice.

Requests are split over the provider's limits (``batch_max_requests`` lines and
``batch_max_bytes`` bytes per input file). The budget is reserved per batch at the batch price
(``batch_discount`` × online price) before submission. Each output line goes into the same
cache and ledger as online labels; error lines and unparseable labels become failures with
their reason.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

from tgrd.teacher.cache import cost_usd
from tgrd.teacher.client import LabelResult, TeacherClient, estimate_tokens
from tgrd.teacher.rubric import LabelParseError
from tgrd.teacher.settings import TeacherConfig
from tgrd.teacher.stage import Progress, _row, _split, summarize

DONE_STATES = ("completed", "failed", "expired", "cancelled")


def chunk_requests(
    lines: list[tuple[str, bytes]], max_requests: int, max_bytes: int
) -> list[list[tuple[str, bytes]]]:
    """Split (custom_id, JSONL line) pairs into batches within both provider limits."""
    chunks: list[list[tuple[str, bytes]]] = []
    cur: list[tuple[str, bytes]] = []
    size = 0
    for item in lines:
        if cur and (len(cur) >= max_requests or size + len(item[1]) > max_bytes):
            chunks.append(cur)
            cur, size = [], 0
        if len(item[1]) > max_bytes:
            raise ValueError(
                f"request {item[0]} alone is {len(item[1])} bytes > batch_max_bytes={max_bytes}"
            )
        cur.append(item)
        size += len(item[1])
    if cur:
        chunks.append(cur)
    return chunks


class BatchLabeler:
    def __init__(self, client: TeacherClient):
        self.t = client
        self.cfg = client.cfg
        self.failures: dict[str, str] = {}  # key → reason, for this call

    def request_line(self, custom_id: str, record: dict[str, Any]) -> bytes:
        body: dict[str, Any] = {
            "model": self.cfg.model,
            "messages": self.t.rubric.render(record["messages"], record.get("task")),
            "max_tokens": self.cfg.max_tokens,
            "temperature": self.cfg.temperature,
        }
        if self.t.structured:
            body["response_format"] = self.t.rubric.response_format()
        line = {
            "custom_id": custom_id,
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": body,
        }
        return (json.dumps(line, ensure_ascii=False) + "\n").encode()

    async def submit(self, records: list[dict[str, Any]]) -> int:
        """Submit uncached records not already in an open batch; returns requests submitted."""
        open_keys = {
            cid.split(":")[0]
            for _, cids in self.t.cache.open_batches(self.cfg.model, self.t.rubric.version)
            for cid in cids
        }
        lines, seen = [], set()
        for rec in records:
            ihash, key = self.t.key_for(rec["messages"])
            if key in open_keys or key in seen or self.t.cache.get(key) is not None:
                continue
            seen.add(key)
            lines.append((f"{key}:{ihash}", self.request_line(f"{key}:{ihash}", rec)))
        submitted = 0
        for chunk in chunk_requests(lines, self.cfg.batch_max_requests, self.cfg.batch_max_bytes):
            est_prompt = sum(estimate_tokens([{"content": b.decode()}]) for _, b in chunk)
            est_usd = cost_usd(
                self.t.price, est_prompt, self.cfg.max_tokens * len(chunk), self.cfg.batch_discount
            )
            rid = self.t.cache.reserve(self.t.run_id, est_usd, est_prompt + self.cfg.max_tokens * len(chunk),
                                       self.cfg.budget_usd, self.cfg.budget_tokens)  # fmt: skip
            if rid is None:
                for cid, _ in chunk:
                    self.failures[cid.split(":")[0]] = "budget_exhausted"
                continue
            data = b"".join(b for _, b in chunk)
            fobj = await self.t.client.files.create(
                file=(f"tgrd-{uuid.uuid4().hex[:8]}.jsonl", data), purpose="batch"
            )
            batch = await self.t.client.batches.create(
                input_file_id=fobj.id, endpoint="/v1/chat/completions",
                completion_window=self.cfg.batch_completion_window,  # type: ignore[arg-type]
            )  # fmt: skip
            # Recorded before anything else can fail: a rerun polls this batch, never resubmits.
            self.t.cache.add_batch(
                batch.id, self.cfg.model, self.t.rubric.version, [c for c, _ in chunk]
            )
            self.t.stats["batches_submitted"] += 1
            self.t.stats["requests"] += len(chunk)
            submitted += len(chunk)
        return submitted

    async def collect(self, wait: bool) -> None:
        """Poll open batches (until all are done when ``wait``) and merge finished ones."""
        while True:
            pending = 0
            for bid, cids in self.t.cache.open_batches(self.cfg.model, self.t.rubric.version):
                batch = await self.t.client.batches.retrieve(bid)
                if batch.status not in DONE_STATES:
                    pending += 1
                    continue
                if batch.status == "completed" and batch.output_file_id:
                    content = await self.t.client.files.content(batch.output_file_id)
                    self.merge(content.text, cids)
                else:
                    for cid in cids:
                        self.failures[cid.split(":")[0]] = f"batch_{batch.status}"
                self.t.cache.close_batch(bid, batch.status)
            if pending == 0 or not wait:
                return
            await asyncio.sleep(self.cfg.batch_poll_s)

    def merge(self, text: str, cids: list[str]) -> None:
        """Merge one output file into the cache and ledger."""
        seen = set()
        for n, line in enumerate(filter(str.strip, text.splitlines()), 1):
            try:
                item = json.loads(line)
                key, ihash = str(item["custom_id"]).split(":")
            except (ValueError, KeyError) as exc:
                self.t.stats["batch_bad_lines"] += 1
                print(f"[label] batch output line {n}: unreadable ({exc})")
                continue
            seen.add(key)
            resp = item.get("response") or {}
            if item.get("error") or resp.get("status_code") != 200:
                err = (item.get("error") or {}).get("code") or resp.get("status_code")
                self.failures[key] = f"batch_error:{err}"
                continue
            body = resp.get("body") or {}
            usage = body.get("usage") or {}
            pt, ct = int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
            cost = cost_usd(self.t.price, pt, ct, self.cfg.batch_discount)
            self.t._account((pt, ct), cost)
            try:
                text_out = body["choices"][0]["message"]["content"]
                label, rationale = self.t.rubric.parse(text_out)
            except (KeyError, IndexError, TypeError, LabelParseError) as exc:
                reason = getattr(exc, "reason", "malformed_body")
                self.t.cache.charge(self.t.run_id, key, "batch_invalid_label", pt, ct, cost)
                self.failures[key] = f"unparseable_label:{reason}"
                continue
            self.t.cache.put(
                key, run_id=self.t.run_id, model=self.cfg.model, rubric_version=self.t.rubric.version,
                instance_hash=ihash, label=label, rationale=rationale, raw=text_out or "",
                prompt_tokens=pt, completion_tokens=ct, cost_usd=cost, source="batch",
            )  # fmt: skip
            self.t.stats["labeled"] += 1
        for cid in cids:
            if cid.split(":")[0] not in seen:
                self.failures[cid.split(":")[0]] = "batch_missing_output"


def label_batch(records: list[dict[str, Any]], cfg: TeacherConfig, run_id: str | None = None,
                wait: bool = True, progress: bool = True) -> tuple[list[dict[str, Any]], dict[str, Any]]:  # fmt: skip
    """Label through the Batch API; rows for unfinished batches have status ``pending_batch``."""
    run_id = run_id or uuid.uuid4().hex[:12]
    t0 = time.monotonic()
    prog = Progress(len(records)) if progress else None

    async def go() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        async with TeacherClient(cfg, run_id=run_id) as client:
            labeler = BatchLabeler(client)
            passed, _ = _split(records)
            before = {
                id(r): client.cache.get(client.key_for(r["messages"])[1]) is not None
                for r in passed
            }
            await labeler.collect(wait=False)  # resume: merge batches a previous run submitted
            await labeler.submit(passed)
            await labeler.collect(wait=wait)
            open_keys = {
                c.split(":")[0]
                for _, cs in client.cache.open_batches(cfg.model, client.rubric.version)
                for c in cs
            }
            meta = {"rubric_version": client.rubric.version, "model": cfg.model}
            rows = []
            for rec in records:
                if rec.get("gate_pass", True) is False:
                    rows.append(_row(rec, None, meta))
                    continue
                ihash, key = client.key_for(rec["messages"])
                hit = client.cache.get(key)
                res = LabelResult(
                    id=str(rec.get("id") or ihash), instance_hash=ihash, label=None, status="failed"
                )
                if hit is not None:
                    res.label, res.prompt_tokens, res.completion_tokens = (
                        hit["label"],
                        hit["prompt_tokens"],
                        hit["completion_tokens"],
                    )
                    res.cached = before[id(rec)]
                    res.status = "cached" if res.cached else "labeled"
                elif key in open_keys:
                    res.status, res.failure_reason = "pending_batch", "batch_not_finished"
                else:
                    res.failure_reason = labeler.failures.get(key, "batch_missing_output")
                    res.status = "budget" if res.failure_reason == "budget_exhausted" else "failed"
                rows.append(_row(rec, res, meta))
                if prog is not None:
                    prog.update(res.status, res.prompt_tokens + res.completion_tokens)
            return rows, client.summary()

    rows, stats = asyncio.run(go())
    if prog is not None:
        prog.emit()
    summary = summarize(rows, stats, cfg, run_id, time.monotonic() - t0)
    summary["mode"] = "batch"
    summary["batches_submitted"] = int(stats.get("batches_submitted", 0))
    return rows, summary
