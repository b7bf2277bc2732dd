"""TeacherClient: rubric labels from any OpenAI-compatible endpoint, cached, budgeted, retried.

    async with TeacherClient(cfg.teacher, run_id="run-1") as teacher:
        results = await teacher.label_many(records)   # canonical records → LabelResult list

Each label goes: cache lookup → budget reservation → rate limiter → ``chat.completions.create``
(structured ``response_format``) → tolerant parse → cache + ledger commit. Transport faults
(429 honouring Retry-After, 5xx, timeouts, broken bodies) are retried with exponential backoff
and jitter by this module, not by the openai client (``max_retries=0``), so every retry is
counted. A reply whose label stays unparseable after ``max_label_attempts`` requests is a
failure with its reason, never a default class. The API key is read from the environment and
never logged or written.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from tgrd.records import content_hash
from tgrd.teacher.cache import LabelCache, cache_key, cost_usd, price_of
from tgrd.teacher.ratelimit import RateLimiter
from tgrd.teacher.rubric import LabelParseError, Rubric, load_rubric
from tgrd.teacher.settings import TeacherConfig

LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")


@dataclass
class LabelResult:
    """Outcome for one instance. ``status``: labeled, cached, failed, budget or gate_fail."""

    id: str
    instance_hash: str
    label: str | None
    status: str
    failure_reason: str | None = None
    rationale: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    cached: bool = False
    attempts: int = 0

    def to_row(self) -> dict[str, Any]:
        return asdict(self)


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def estimate_tokens(messages: list[dict[str, str]]) -> int:
    """Rough prompt tokens (~4 characters per token + per-message overhead); corrected later."""
    return sum(len(m["content"]) // 4 + 4 for m in messages) + 3


def resolve_endpoint(cfg: TeacherConfig) -> tuple[str, str]:
    """(base_url, api_key) from config and environment; a local endpoint needs no key."""
    base_url = cfg.base_url or os.environ.get("OPENAI_BASE_URL")
    if not base_url:
        raise ValueError(
            "teacher: no endpoint; set teacher.base_url, --teacher-url or OPENAI_BASE_URL"
        )
    key = os.environ.get(cfg.api_key_env)
    if not key:
        if not any(h in base_url for h in LOCAL_HOSTS):
            raise ValueError(f"teacher: ${cfg.api_key_env} is not set for endpoint {base_url}")
        key = "local-no-key"
    return base_url, key


def _retry_after(headers: Any) -> float | None:
    for name, scale in (("retry-after-ms", 1e-3), ("retry-after", 1.0)):
        value = headers.get(name) if headers is not None else None
        if value is not None:
            try:
                return float(value) * scale
            except ValueError:
                continue
    return None


class TeacherClient:
    """Async rubric labeler; one per process (or per Ray actor, with ``limit_share``)."""

    def __init__(
        self,
        cfg: TeacherConfig,
        *,
        rubric: Rubric | None = None,
        cache: LabelCache | None = None,
        run_id: str | None = None,
        limit_share: float = 1.0,
    ):
        import openai  # deferred: keep ``import tgrd.teacher`` light

        self.cfg = cfg
        self.rubric = rubric or load_rubric(cfg.rubric)
        self.cache = cache or LabelCache(cfg.cache_path)
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.price = price_of(cfg.prices, cfg.model)
        base_url, key = resolve_endpoint(cfg)
        self.openai = openai
        self.client = openai.AsyncOpenAI(
            base_url=base_url,
            api_key=key,
            max_retries=0,  # we retry ourselves, to count and to honour budgets
            timeout=cfg.timeout_s,
            http_client=openai.DefaultAioHttpClient(timeout=cfg.timeout_s),
        )
        self.structured = cfg.structured_output
        # Several actors split the provider limits between them.
        rpm = cfg.rpm * limit_share if cfg.rpm else None
        tpm = cfg.tpm * limit_share if cfg.tpm else None
        self.limiter = RateLimiter(rpm, tpm, cfg.concurrency)
        self.stats: Counter[str] = Counter()
        self.budget_stopped = False
        self._rng = random.Random()

    async def __aenter__(self) -> TeacherClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.client.close()

    def key_for(self, messages: list[dict[str, str]]) -> tuple[str, str]:
        ihash = content_hash(messages)
        return ihash, cache_key(self.cfg.model, self.rubric.version, ihash)

    async def label_many(
        self, records: list[dict[str, Any]], progress: Callable[[LabelResult], None] | None = None
    ) -> list[LabelResult]:
        """Label records concurrently (limits apply); results in input order."""

        async def one(rec: dict[str, Any]) -> LabelResult:
            res = await self.label(rec)
            if progress is not None:
                progress(res)
            return res

        return list(await asyncio.gather(*(one(r) for r in records)))

    async def label(self, record: dict[str, Any]) -> LabelResult:
        """Label one canonical record; never raises for API trouble (see ``status``)."""
        try:
            messages = [{"role": m["role"], "content": m["content"]} for m in record["messages"]]
        except (KeyError, TypeError) as exc:  # not canonical: ingest should have quarantined it
            self.stats["failed:invalid_record"] += 1
            rid = str(record.get("id")) if isinstance(record, dict) else "?"
            return LabelResult(id=rid, instance_hash="", label=None, status="failed",
                               failure_reason=f"invalid_record:{exc!r}")  # fmt: skip
        ihash, key = self.key_for(messages)
        res = LabelResult(
            id=str(record.get("id") or ihash), instance_hash=ihash, label=None, status="failed"
        )
        hit = self.cache.get(key)
        if hit is not None:
            self.stats["cached"] += 1
            res.label, res.rationale, res.status, res.cached = (
                hit["label"],
                hit["rationale"],
                "cached",
                True,
            )
            res.prompt_tokens, res.completion_tokens = (
                hit["prompt_tokens"],
                hit["completion_tokens"],
            )
            return res
        prompt = self.rubric.render(messages, record.get("task"))
        for attempt in range(self.cfg.max_label_attempts):
            outcome = await self._request(prompt, key, res)
            if outcome is None:  # budget, non-retryable error or retries exhausted
                break
            text, usage = outcome
            cost = cost_usd(self.price, *usage)
            res.prompt_tokens += usage[0]
            res.completion_tokens += usage[1]
            res.cost_usd += cost
            self._account(usage, cost)
            try:
                label, rationale = self.rubric.parse(text)
            except LabelParseError as exc:
                self.stats[f"invalid_label:{exc.reason}"] += 1
                self.cache.charge(self.run_id, key, "invalid_label", *usage, cost)
                res.failure_reason = f"unparseable_label:{exc.reason}"
                if attempt + 1 < self.cfg.max_label_attempts:
                    self.stats["label_retries"] += 1
                continue
            self.cache.put(
                key, run_id=self.run_id, model=self.cfg.model, rubric_version=self.rubric.version,
                instance_hash=ihash, label=label, rationale=rationale, raw=text or "",
                prompt_tokens=usage[0], completion_tokens=usage[1], cost_usd=cost, source="online",
            )  # fmt: skip
            res.label, res.rationale, res.status, res.failure_reason = (
                label,
                rationale,
                "labeled",
                None,
            )
            self.stats["labeled"] += 1
            return res
        if res.status != "budget":
            self.stats[f"failed:{res.failure_reason}"] += 1
        return res

    def _account(self, usage: tuple[int, int], cost: float) -> None:
        self.stats["prompt_tokens"] += usage[0]
        self.stats["completion_tokens"] += usage[1]
        self.stats["cost_micro_usd"] += round(cost * 1e6)

    async def _request(
        self, prompt: list[dict[str, str]], key: str, res: LabelResult
    ) -> tuple[str, tuple[int, int]] | None:
        """One paid reply (text, (prompt, completion) tokens) after transport retries, or None."""
        est_prompt = estimate_tokens(prompt)
        est_tokens = est_prompt + self.cfg.max_tokens
        for retry in range(self.cfg.max_retries + 1):
            if self.budget_stopped:
                res.status, res.failure_reason = "budget", "budget_exhausted"
                return None
            rid = self.cache.reserve(
                self.run_id, cost_usd(self.price, est_prompt, self.cfg.max_tokens), est_tokens,
                self.cfg.budget_usd, self.cfg.budget_tokens,
            )  # fmt: skip
            if rid is None:
                self.budget_stopped = True
                res.status, res.failure_reason = "budget", "budget_exhausted"
                self.stats["budget_stopped"] += 1
                return None
            try:
                res.attempts += 1
                self.stats["requests"] += 1
                async with self.limiter.slot(est_tokens) as slot:
                    text, usage = await self._call(prompt)
                    slot.correct(sum(usage))
                return text, usage
            except _Retryable as exc:
                self.stats[f"retry:{exc.reason}"] += 1
                res.failure_reason = f"retries_exhausted:{exc.reason}"
                if retry == self.cfg.max_retries:
                    return None
                self.stats["retries"] += 1
                await asyncio.sleep(self._backoff(retry, exc.retry_after))
            except self.openai.APIStatusError as exc:  # 4xx that retrying cannot fix
                res.failure_reason = f"http_{exc.status_code}"
                return None
            finally:
                self.cache.release(rid)
        return None

    def _backoff(self, retry: int, retry_after: float | None) -> float:
        # Full-jitter exponential backoff; a server's Retry-After is a floor, not a suggestion.
        backoff = min(
            self.cfg.backoff_max_s, self.cfg.backoff_base_s * 2**retry
        ) * self._rng.uniform(0.5, 1.0)
        if retry_after is not None:
            return min(self.cfg.backoff_max_s, retry_after) + self._rng.uniform(
                0, 0.1 * retry_after + 0.01
            )
        return backoff

    async def _call(self, prompt: list[dict[str, str]]) -> tuple[str, tuple[int, int]]:
        op = self.openai
        kwargs: dict[str, Any] = {
            "model": self.cfg.model,
            "messages": prompt,
            "max_tokens": self.cfg.max_tokens,
            "temperature": self.cfg.temperature,
        }
        if self.structured:
            kwargs["response_format"] = self.rubric.response_format()
        try:
            resp = await self.client.chat.completions.create(**kwargs)
        except op.RateLimitError as exc:
            raise _Retryable("rate_limited", _retry_after(exc.response.headers)) from None
        except op.APITimeoutError:
            raise _Retryable("timeout") from None
        except op.APIConnectionError:
            raise _Retryable("connection") from None
        except op.APIStatusError as exc:
            if exc.status_code >= 500 or exc.status_code in (408, 409):
                raise _Retryable(
                    f"http_{exc.status_code}", _retry_after(exc.response.headers)
                ) from None
            if (
                exc.status_code == 400
                and "response_format" in kwargs
                and "response_format" in str(exc.message)
            ):
                self.structured = False  # endpoint lacks structured output: fall back to prose
                raise _Retryable("structured_output_unsupported") from None
            raise
        except (json.JSONDecodeError, op.APIResponseValidationError, UnicodeDecodeError):
            raise _Retryable("malformed_body") from None
        choices = getattr(resp, "choices", None)
        if not choices or getattr(choices[0], "message", None) is None:
            raise _Retryable("malformed_body")
        text = choices[0].message.content
        usage = getattr(resp, "usage", None)
        if usage is None:  # some servers omit usage: bill the estimate, never zero
            self.stats["usage_missing"] += 1
            return text, (estimate_tokens(prompt), estimate_tokens([{"content": text or ""}]))
        return text, (int(usage.prompt_tokens), int(usage.completion_tokens))

    def summary(self) -> dict[str, Any]:
        """Counters for summary.json (requests, retries by reason, failures by reason, spend)."""
        stats = dict(self.stats)
        stats["cost_usd"] = stats.pop("cost_micro_usd", 0) / 1e6
        return stats
