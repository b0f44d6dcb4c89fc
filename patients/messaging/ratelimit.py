"""Send rates: how fast a provider lets one sender (and one account) send, shared by every worker.

A provider counts message segments per second per sender: Twilio sends 1 a second from a long
code, about 100 from a short code, what was granted from an alphanumeric ID or a Messaging
Service, and caps the account as a whole. Whatever is sent faster waits in the provider's queue and
fails once it has waited past the validity period (Twilio errors 21611, 30001), so the dispatcher
paces itself instead: a token bucket per sender, refilled at the sender's rate, holding a second's
worth of tokens.

The buckets live in Redis (pyrate-limiter's GCRA, one atomic Lua call per take), so the rate holds
across every worker process and machine, not per process. Without REDIS_URL (development, the
SQLite tests: one worker) they live in the process.

If Redis cannot be reached, `wait_for` raises redis.RedisError: the caller sends nothing it has
not been granted (the broker is on the same Redis, so nothing else moves either).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from functools import cache
from typing import cast

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from pyrate_limiter import Decision, InMemoryStateStore, Rate, RedisStateStore, StateStore, TokenBucket

KEY_PREFIX = "ressenti:send-rate:"


@dataclass(frozen=True)
class SendRate:
    """`per_second` units (message segments) for the sender or account named by `key`."""

    key: str
    per_second: float

    @property
    def burst(self) -> int:
        # A second's worth: a rested sender may send that many at once, as the provider allows.
        return max(1, math.ceil(self.per_second))

    def as_rate(self) -> Rate:
        # pyrate-limiter counts whole units per interval in milliseconds: per 1000 s, so that a
        # fractional rate (0.5/s = 500 per 1000 s) stays exact.
        return Rate(max(1, round(self.per_second * 1000)), 1000 * 1000, burst=self.burst)


class SendRateLimiter:
    """Token buckets for one send path (a sender, then its account): take before each send."""

    def __init__(self, rates: tuple[SendRate, ...], *, redis_url: str = ""):
        self.rates = rates
        self._algorithm = TokenBucket()
        self._stores: list[tuple[SendRate, StateStore]] = [(rate, _store(rate.key, redis_url)) for rate in rates]

    @property
    def burst(self) -> int:
        """The most units one take can be granted: the smallest bucket."""
        return min(rate.burst for rate in self.rates)

    def take(self, weight: int = 1) -> float:
        """Spend `weight` units now if every bucket has them: 0.0; else the seconds to wait before
        asking again (nothing spent in the bucket that refused).

        A message of more segments than a bucket holds counts as a full bucket. Buckets are asked in
        order (sender, then account): one granted before another refuses keeps its units spent, which
        slows the sender a little, never speeds it up."""
        for rate, store in self._stores:
            units = max(1, min(weight, rate.burst))
            # A synchronous Redis client (or the in-process store): the decision, never an awaitable.
            decision = cast(Decision, store.check(self._algorithm, [rate.as_rate()], int(time.time() * 1000), units))
            if not decision.allowed:
                return max(0.001, (decision.retry_after_ms or 1) / 1000)
        return 0.0

    def wait_for(self, weight: int = 1) -> None:
        """Block until `weight` units are granted."""
        while (wait := self.take(weight)) > 0:
            time.sleep(wait)


_memory_stores: dict[str, InMemoryStateStore] = {}
_lock = threading.Lock()


def _store(key: str, redis_url: str) -> StateStore:
    if redis_url:
        return RedisStateStore(_redis(redis_url), KEY_PREFIX + key)
    with _lock:
        return _memory_stores.setdefault(key, InMemoryStateStore())


@cache
def _redis(url: str):
    import redis

    # Short timeouts: a Redis that went away must fail the take quickly, not hang a batch.
    return redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)


def limiter_for(rates: tuple[SendRate, ...]) -> SendRateLimiter | None:
    """The limiter of these rates (None: nothing to pace), in Redis when the project has one."""
    if not rates:
        return None
    return SendRateLimiter(rates, redis_url=getattr(settings, "REDIS_URL", "") or "")


@receiver(setting_changed)
def _forget_stores(*, setting: str, **kwargs) -> None:
    # A test that changes the rates or the Redis starts from full buckets.
    if setting == "REDIS_URL" or setting.endswith("_MPS"):
        with _lock:
            _memory_stores.clear()
        _redis.cache_clear()
