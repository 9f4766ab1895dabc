"""API keys and per-caller rate limits, for the API families the settings name.

Keys are compared in constant time against every configured key (no early exit), so timing
tells a caller nothing about which bytes of a guess were right. Rate limits are token
buckets per valid key, else per client address (parsed: an IPv6 client counts by its /64, so
one host cannot make itself many callers; anything unparsable is one caller), refilled
continuously, and shared by every API (``Access``): a caller's requests count once, whichever
API they use. The buckets' memory is bounded in bytes (``LIMITER_BYTES``), each entry being of
bounded size. ``Access.admit`` is the one check each route makes; the route words a refusal.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
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
    address. At most 33 characters either way."""
    if key:
        return "k" + hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:32]
    return "a" + client_address(client_host)


def client_address(host: str | None) -> str:
    """The client address a limit counts: IPv4 as is, IPv6 by its /64 (one site's block),
    "?" for anything else (a forwarded header's garbage: one caller, not one each)."""
    try:
        ip = ipaddress.ip_address((host or "")[:64])
    except ValueError:
        return "?"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False).network_address) + "/64"
    return str(ip)


# What one bucket costs at most (key string, bucket, the cache's bookkeeping), measured in
# tests/test_guard.py; the limiter holds LIMITER_BYTES of them, the least recent dropped.
ENTRY_BYTES = 400
LIMITER_BYTES = 16 * 1024 * 1024


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """``per_minute`` requests per caller with bursts up to ``burst``; 0 turns it off."""

    def __init__(
        self, per_minute: int, burst: int | None = None, max_bytes: int = LIMITER_BYTES
    ) -> None:
        self.per_minute = per_minute
        self.rate = per_minute / 60.0
        self.burst = float(burst if burst is not None else max(1, per_minute))
        self._buckets: LRUCache[str, _Bucket] = LRUCache(
            maxsize=max_bytes, getsizeof=lambda _: ENTRY_BYTES
        )

    def __len__(self) -> int:
        return len(self._buckets)

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
    """The keys and the one rate limiter every API shares; ``keyed`` and ``limited`` say
    whether this API (``for_api``) asks for a key and counts requests."""

    keys: KeyCheck
    limiter: RateLimiter
    keyed: bool = True
    limited: bool = True

    @classmethod
    def from_settings(cls, server: ServerSettings) -> Access:
        return cls(KeyCheck(server.api_keys), RateLimiter(server.rate_limit_per_minute))

    def for_api(self, api: str, server: ServerSettings) -> Access:
        """This API's view: the same keys and limiter, its own settings."""
        return replace(
            self, keyed=api in server.keyed_apis, limited=api in server.rate_limited_apis
        )

    @property
    def active(self) -> bool:
        """False when every request is admitted without a look (the hot path skips it)."""
        return (self.keyed and self.keys.enabled) or (self.limited and self.limiter.enabled)

    def admit(self, presented: str | None, client_host: str | None) -> Refused | None:
        """None when a request with key ``presented`` may go ahead, else why not. Every
        request is counted before its key is checked (a valid key's budget, else the client
        address's), so guessing keys is rate limited too: a spent budget refuses with 429
        before a wrong key does with 401."""
        valid = bool(presented) and self.keys.enabled and self.keys.allows(presented)
        if self.limited and self.limiter.enabled:
            wait = self.limiter.take(caller_id(presented if valid else None, client_host))
            if wait > 0:
                return Refused(Refusal.RATE_LIMITED, max(1, math.ceil(wait)))
        if self.keyed and self.keys.enabled and not valid:
            return _bad_key(presented)
        return None


def _bad_key(presented: str | None) -> Refused:
    return Refused(Refusal.WRONG_KEY if presented else Refusal.NO_KEY)
