"""Persistent label cache, spend ledger and budget (sqlite in WAL mode, safe across processes).

    cache = LabelCache("runs/teacher_cache.sqlite")
    key = cache_key("gpt-4.1", rubric.version, content_hash(messages))
    hit = cache.get(key)                      # dict or None
    ok = cache.reserve(run_id, usd, tokens, budget_usd=5.0, budget_tokens=None)
    cache.put(key, ..., cost_usd=...)         # stored label + ledger line, one transaction

A label is committed the moment its reply is parsed, so a killed run loses at most the requests
in flight and a rerun never pays again for a stored label. Budgets are per run (``run_id``):
before each request its worst-case cost is reserved in one ``BEGIN IMMEDIATE`` transaction,
so several labeling actors sharing the file never overshoot together.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from tgrd.teacher.settings import PriceConfig

_SCHEMA = """
CREATE TABLE IF NOT EXISTS labels (
    key TEXT PRIMARY KEY, model TEXT, rubric_version TEXT, instance_hash TEXT,
    label TEXT, rationale TEXT, raw TEXT, prompt_tokens INTEGER, completion_tokens INTEGER,
    cost_usd REAL, source TEXT, created REAL);
CREATE TABLE IF NOT EXISTS ledger (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT, key TEXT, kind TEXT,
    prompt_tokens INTEGER, completion_tokens INTEGER, cost_usd REAL, created REAL);
CREATE TABLE IF NOT EXISTS reservations (
    rid INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT, cost_usd REAL, tokens INTEGER);
CREATE TABLE IF NOT EXISTS batches (
    batch_id TEXT PRIMARY KEY, model TEXT, rubric_version TEXT, keys TEXT, status TEXT,
    created REAL);
CREATE INDEX IF NOT EXISTS ledger_run ON ledger(run_id);
"""


def cache_key(model: str, rubric_version: str, instance_hash: str) -> str:
    """Cache key of one (model, rubric version, instance content hash) triple."""
    return hashlib.sha256(f"{model}\x1f{rubric_version}\x1f{instance_hash}".encode()).hexdigest()[
        :32
    ]


def price_of(prices: dict[str, PriceConfig], model: str) -> PriceConfig:
    """Price of ``model``; dated snapshots (gpt-4.1-2025-04-14) fall back to their family."""
    if model in prices:
        return prices[model]
    for name in sorted(prices, key=len, reverse=True):
        if model.startswith(name):
            return prices[name]
    raise ValueError(
        f"teacher.prices has no entry for model {model!r} (add one; $0 for free endpoints)"
    )


def cost_usd(
    price: PriceConfig, prompt_tokens: int, completion_tokens: int, discount: float = 1.0
) -> float:
    return (
        discount
        * (prompt_tokens * price.input_per_mtok + completion_tokens * price.output_per_mtok)
        / 1e6
    )


class LabelCache:
    """One sqlite file; open one instance per process (connections are not shared)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: explicit transactions; timeout waits for other writers.
        # check_same_thread=False: Ray actors may call from a different (but single) thread.
        self.db = sqlite3.connect(
            str(self.path), timeout=60.0, isolation_level=None, check_same_thread=False
        )
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process kills
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    def get(self, key: str) -> dict[str, Any] | None:
        cur = self.db.execute(
            "SELECT label, rationale, prompt_tokens, completion_tokens, cost_usd, source "
            "FROM labels WHERE key = ?",
            (key,),
        )
        row = cur.fetchone()
        if row is None:
            return None
        names = ("label", "rationale", "prompt_tokens", "completion_tokens", "cost_usd", "source")
        return dict(zip(names, row, strict=True))

    def put(
        self,
        key: str,
        *,
        run_id: str,
        model: str,
        rubric_version: str,
        instance_hash: str,
        label: str,
        rationale: str,
        raw: str,
        prompt_tokens: int,
        completion_tokens: int,
        cost_usd: float,
        source: str,
    ) -> None:
        """Store a label and its ledger line atomically (first writer wins)."""
        now = time.time()
        with self._tx():
            self.db.execute(
                "INSERT OR IGNORE INTO labels VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (key, model, rubric_version, instance_hash, label, rationale, raw,
                 prompt_tokens, completion_tokens, cost_usd, source, now),
            )  # fmt: skip
            self._ledger(run_id, key, source, prompt_tokens, completion_tokens, cost_usd, now)

    def charge(self, run_id: str, key: str, kind: str, prompt_tokens: int, completion_tokens: int,
               cost: float) -> None:  # fmt: skip
        """Ledger line for a paid reply that produced no label (e.g. an unparseable one)."""
        with self._tx():
            self._ledger(run_id, key, kind, prompt_tokens, completion_tokens, cost, time.time())

    def _ledger(self, run_id, key, kind, pt, ct, cost, now) -> None:  # noqa: ANN001
        self.db.execute(
            "INSERT INTO ledger (run_id, key, kind, prompt_tokens, completion_tokens, cost_usd, created)"
            " VALUES (?,?,?,?,?,?,?)",
            (run_id, key, kind, pt, ct, cost, now),
        )

    def _tx(self) -> _Transaction:
        return _Transaction(self.db)

    def reserve(self, run_id: str, usd: float, tokens: int, budget_usd: float | None,
                budget_tokens: int | None) -> int | None:  # fmt: skip
        """Reserve a request's worst-case spend; None when it would cross a budget."""
        if budget_usd is None and budget_tokens is None:
            return 0  # no cap: skip the write (rid 0 is never a real row)
        with self._tx():
            spent_usd, spent_tok = self.spent(run_id)
            res_usd, res_tok = self.db.execute(
                "SELECT COALESCE(SUM(cost_usd),0), COALESCE(SUM(tokens),0) FROM reservations"
                " WHERE run_id = ?",
                (run_id,),
            ).fetchone()
            if budget_usd is not None and spent_usd + res_usd + usd > budget_usd:
                return None
            if budget_tokens is not None and spent_tok + res_tok + tokens > budget_tokens:
                return None
            cur = self.db.execute(
                "INSERT INTO reservations (run_id, cost_usd, tokens) VALUES (?,?,?)",
                (run_id, usd, tokens),
            )
            return int(cur.lastrowid)

    def release(self, rid: int) -> None:
        if rid == 0:
            return
        with self._tx():
            self.db.execute("DELETE FROM reservations WHERE rid = ?", (rid,))

    def spent(self, run_id: str | None = None) -> tuple[float, int]:
        """($, tokens) paid by one run, or by all runs when ``run_id`` is None."""
        where, args = ("WHERE run_id = ?", (run_id,)) if run_id is not None else ("", ())
        usd, tok = self.db.execute(
            f"SELECT COALESCE(SUM(cost_usd),0), COALESCE(SUM(prompt_tokens+completion_tokens),0)"
            f" FROM ledger {where}",
            args,
        ).fetchone()
        return float(usd), int(tok)

    # Batch bookkeeping: submitted batches survive the process so a rerun polls them instead of
    # submitting (and paying for) the same requests again.
    def add_batch(self, batch_id: str, model: str, rubric_version: str, keys: list[str]) -> None:
        with self._tx():
            self.db.execute(
                "INSERT OR REPLACE INTO batches VALUES (?,?,?,?,?,?)",
                (batch_id, model, rubric_version, json.dumps(keys), "submitted", time.time()),
            )

    def open_batches(self, model: str, rubric_version: str) -> list[tuple[str, list[str]]]:
        cur = self.db.execute(
            "SELECT batch_id, keys FROM batches WHERE model=? AND rubric_version=? AND status='submitted'",
            (model, rubric_version),
        )
        return [(bid, json.loads(keys)) for bid, keys in cur.fetchall()]

    def close_batch(self, batch_id: str, status: str) -> None:
        with self._tx():
            self.db.execute("UPDATE batches SET status=? WHERE batch_id=?", (status, batch_id))


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT``: takes the write lock up front (no upgrade deadlocks)."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb) -> None:  # noqa: ANN001
        self.db.execute("COMMIT" if exc_type is None else "ROLLBACK")
