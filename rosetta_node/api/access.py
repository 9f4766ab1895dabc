"""API keys and per-key rate limits for the translator routes (vendor clients send keys).

Keys are compared in constant time against every configured key (no early exit), so timing
tells a caller nothing about which bytes of a guess were right. Rate limits are token
buckets per key (per client address without keys), refilled continuously, and shared by every
translator API (``Access``): a caller's requests count once, whichever API they use.
``Access.admit`` is the one check each translator route makes; the route words a refusal.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

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


class Refusal(Enum):
    NO_KEY = "no key"  # keys are configured and the request names none
    WRONG_KEY = "wrong key"  # the key it names is not one of them
    RATE_LIMITED = "rate limited"


@dataclass(frozen=True, slots=True)
class Refused:
    why: Refusal
    retry_after: int = 0  # whole seconds (at least 1) when rate limited


@dataclass(frozen=True, slots=True)
class Access:
    """The keys and the one rate limiter that the Sequence and Chainbase routes share."""

    keys: KeyCheck
    limiter: RateLimiter

    @classmethod
    def from_settings(cls, server: ServerSettings) -> Access:
        return cls(KeyCheck(server.api_keys), RateLimiter(server.rate_limit_per_minute))

    def admit(
        self, presented: str | None, client_host: str | None, *, count_refused: bool = False
    ) -> Refused | None:
        """None when a request with key ``presented`` may go ahead, else why not. The rate
        limit counts a valid key, else the client address. A request without a valid key is
        refused before it is counted, unless ``count_refused``: then it is counted (by address)
        and a spent budget refuses it with 429 before the key does with 401."""
        valid = self.keys.allows(presented)
        if not valid and not count_refused:
            return _bad_key(presented)
        key = presented if self.keys.enabled and valid else None
        wait = self.limiter.take(caller_id(key, client_host))
        if wait > 0:
            return Refused(Refusal.RATE_LIMITED, max(1, math.ceil(wait)))
        return None if valid else _bad_key(presented)


def _bad_key(presented: str | None) -> Refused:
    return Refused(Refusal.WRONG_KEY if presented else Refusal.NO_KEY)
