"""Token buckets and the concurrency cap hold their rates (real asyncio, real clocks)."""

from __future__ import annotations

import asyncio
import time

from tgrd.teacher.ratelimit import RateLimiter, TokenBucket


def test_request_bucket_holds_rate():
    async def go() -> float:
        limiter = RateLimiter(rpm=6000, tpm=None, concurrency=1000)  # 100/s, 1 s burst
        t0 = time.monotonic()

        async def one() -> None:
            async with limiter.slot(10):
                pass

        await asyncio.gather(*(one() for _ in range(250)))
        return time.monotonic() - t0

    elapsed = asyncio.run(go())
    # 100 in the initial burst, 150 more at 100/s → 1.5 s.
    assert 1.4 <= elapsed <= 2.2, elapsed


def test_token_bucket_correction_creates_debt():
    async def go() -> float:
        bucket = TokenBucket(rate_per_s=1000, capacity=1000)
        await bucket.take(1000)
        bucket.correct(500)  # the reply used 500 more tokens than estimated
        t0 = time.monotonic()
        await bucket.take(100)  # must wait for 600 tokens at 1000/s
        return time.monotonic() - t0

    assert 0.5 <= asyncio.run(go()) <= 0.9


def test_concurrency_cap():
    async def go() -> int:
        limiter = RateLimiter(rpm=None, tpm=None, concurrency=3)
        active = peak = 0

        async def one() -> None:
            nonlocal active, peak
            async with limiter.slot(1):
                active += 1
                peak = max(peak, active)
                await asyncio.sleep(0.01)
                active -= 1

        await asyncio.gather(*(one() for _ in range(20)))
        return peak

    assert asyncio.run(go()) == 3
