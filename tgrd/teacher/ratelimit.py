"""Async token buckets for requests/minute and tokens/minute, plus a concurrency cap.

    limiter = RateLimiter(rpm=500, tpm=200_000, concurrency=64)
    async with limiter.slot(estimated_tokens=900) as slot:
        reply = await call()
        slot.correct(actual_tokens=reply.usage.total_tokens)

Tokens are taken before the call from an estimate and corrected with the usage the server
returns (a bucket may go into debt, which delays later callers), so the long-run rate matches
the provider's accounting. Buckets hold at most ``burst_s`` seconds of traffic: a full minute
of burst would trip providers that also enforce shorter windows.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class TokenBucket:
    """Refills at ``rate_per_s`` up to ``capacity``; ``take`` waits in FIFO order."""

    def __init__(self, rate_per_s: float, capacity: float):
        self.rate = rate_per_s
        self.capacity = capacity
        self.level = capacity
        self.updated = time.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
        self.updated = now

    async def take(self, amount: float) -> None:
        # Holding the lock while sleeping keeps waiters in arrival order (no starvation of
        # large requests by small ones). A request larger than the bucket waits for a full one.
        amount = min(amount, self.capacity)
        async with self._lock:
            while True:
                self._refill()
                if self.level >= amount:
                    self.level -= amount
                    return
                await asyncio.sleep((amount - self.level) / self.rate)

    def correct(self, delta: float) -> None:
        """Charge ``delta`` more (or refund when negative) after the fact."""
        self._refill()
        self.level = min(self.capacity, self.level - delta)


class _Slot:
    def __init__(self, limiter: RateLimiter, estimated: float):
        self._limiter = limiter
        self._estimated = estimated

    def correct(self, actual_tokens: float) -> None:
        if self._limiter.tokens is not None:
            self._limiter.tokens.correct(actual_tokens - self._estimated)
        self._estimated = actual_tokens


class RateLimiter:
    """RPM + TPM buckets and a semaphore; any limit may be None (unlimited)."""

    def __init__(
        self,
        rpm: float | None,
        tpm: float | None,
        concurrency: int,
        burst_s: float = 1.0,
    ):
        self.requests = TokenBucket(rpm / 60.0, max(1.0, rpm / 60.0 * burst_s)) if rpm else None
        self.tokens = TokenBucket(tpm / 60.0, max(1.0, tpm / 60.0 * burst_s)) if tpm else None
        self._sem = asyncio.Semaphore(concurrency)

    @asynccontextmanager
    async def slot(self, estimated_tokens: float) -> AsyncIterator[_Slot]:
        """Wait for a concurrency slot and for the buckets, then yield a correctable slot."""
        async with self._sem:
            if self.requests is not None:
                await self.requests.take(1)
            if self.tokens is not None:
                await self.tokens.take(estimated_tokens)
            yield _Slot(self, estimated_tokens)
