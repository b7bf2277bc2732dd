"""Label cache, ledger and budget reservations (sqlite, two connections like two actors)."""

from __future__ import annotations

from tgrd.teacher.cache import LabelCache, cache_key, cost_usd, price_of
from tgrd.teacher.settings import PriceConfig, TeacherConfig


def _put(cache: LabelCache, key: str, run_id: str, cost: float) -> None:
    cache.put(key, run_id=run_id, model="m", rubric_version="v", instance_hash="h", label="PASS",
              rationale="r", raw="{}", prompt_tokens=100, completion_tokens=10, cost_usd=cost, source="online")  # fmt: skip


def test_put_get_first_writer_wins(tmp_path):
    a, b = LabelCache(tmp_path / "c.sqlite"), LabelCache(tmp_path / "c.sqlite")
    key = cache_key("m", "v", "h")
    assert a.get(key) is None
    _put(a, key, "run1", 0.5)
    assert b.get(key)["label"] == "PASS"
    _put(b, key, "run1", 0.5)  # a duplicate put is ignored for the label, charged in the ledger
    assert a.spent("run1") == (1.0, 220)
    assert cache_key("m", "v2", "h") != key


def test_budget_reservations_shared_across_connections(tmp_path):
    a, b = LabelCache(tmp_path / "c.sqlite"), LabelCache(tmp_path / "c.sqlite")
    granted = []
    for i in range(10):
        rid = (a if i % 2 else b).reserve("run", 0.3, 0, budget_usd=1.0, budget_tokens=None)
        if rid is not None:
            granted.append(rid)
    assert len(granted) == 3  # 3 × 0.3 ≤ 1.0 < 4 × 0.3
    a.release(granted[0])
    _put(a, "k1", "run", 0.35)  # actual spend replaces the released reservation
    assert b.reserve("run", 0.3, 0, budget_usd=1.0, budget_tokens=None) is None
    assert b.reserve("other-run", 0.3, 0, budget_usd=1.0, budget_tokens=None) is not None


def test_token_budget(tmp_path):
    cache = LabelCache(tmp_path / "c.sqlite")
    _put(cache, "k", "run", 0.0)  # 110 tokens
    assert cache.reserve("run", 0, 100, budget_usd=None, budget_tokens=200) is None
    assert cache.reserve("run", 0, 90, budget_usd=None, budget_tokens=200) is not None


def test_prices():
    prices = TeacherConfig().prices
    assert price_of(prices, "gpt-4.1-2025-04-14") == prices["gpt-4.1"]
    assert price_of(prices, "gpt-4.1-mini") == prices["gpt-4.1-mini"]
    assert cost_usd(PriceConfig(input_per_mtok=2, output_per_mtok=8), 1_000_000, 0, 0.5) == 1.0
