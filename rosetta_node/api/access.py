"""API keys and per-key rate limits for the translator routes (vendor clients send keys).

Keys are compared in constant time against every configured key (no early exit), so timing
tells a caller nothing about which bytes of a guess were right. Rate limits are token
buckets per key (per client address without keys), refilled continuously, and shared by every
translator API (``Access``): a caller's requests count once, whichever API they use.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence
from dataclasses import dataclass

from cachetools import LRUCache

from ..settings import ServerSettings


class KeyCheck:
    def __init__(self, keys: Sequence[str]) -> None:
        self._keys = [k.encode() for k in keys if k]

    @property
    def enabled(self) -> bool:
        return bool(self._keys)

    def allows(self, presented: str | None) -> bool:
        """True when no keys are configured, or ``presented`` equals one of them."""
        if not self._keys:
            return True
        if not presented:
            return False
        given = presented.encode("utf-8", "replace")
        found = False
        for key in self._keys:  # compare with all of them: the time does not depend on which
            found |= hmac.compare_digest(given, key)
        return found


def caller_id(key: str | None, client_host: str | None) -> str:
    """Whom a rate limit counts: a valid API key (hashed: never kept in clear), else the client
    address."""
    if key:
        return "key:" + hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()
    return "addr:" + (client_host or "unknown")


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """``per_minute`` requests per caller with bursts up to ``burst``; 0 turns it off."""

    def __init__(self, per_minute: int, burst: int | None = None, callers: int = 100_000) -> None:
        self.per_minute = per_minute
        self.rate = per_minute / 60.0
        self.burst = float(burst if burst is not None else max(1, per_minute))
        self._buckets: LRUCache[str, _Bucket] = LRUCache(maxsize=callers)

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, caller: str) -> float:
        """0 when the request may go ahead, else the seconds until it may (Retry-After)."""
        if not self.enabled:
            return 0.0
        now = time.monotonic()
        bucket = self._buckets.get(caller)
        if bucket is None:
            bucket = self._buckets[caller] = _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.rate)
        bucket.stamp = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate


@dataclass(frozen=True, slots=True)
class Access:
    """The keys and the one rate limiter that the Sequence and Chainbase routes share."""

    keys: KeyCheck
    limiter: RateLimiter

    @classmethod
    def from_settings(cls, server: ServerSettings) -> Access:
        return cls(KeyCheck(server.api_keys), RateLimiter(server.rate_limit_per_minute))
