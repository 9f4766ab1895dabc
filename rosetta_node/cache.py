"""Bounded caches for one network, keyed by block hash.

A block hash names immutable data (header, operations, state), so entries never go stale;
a reorg just makes them unreachable. Only the head is cached by time, and briefly.
"""

from __future__ import annotations

from typing import Any

from cachetools import LRUCache, TTLCache


class ChainCache:
    def __init__(
        self,
        *,
        headers: int = 20_000,
        blocks: int = 256,
        balances: int = 200_000,
        head_ttl: float = 0.25,
    ) -> None:
        self.headers: LRUCache[str, Any] = LRUCache(maxsize=headers)
        self.blocks: LRUCache[str, Any] = LRUCache(maxsize=blocks)
        # (block hash, address, currency key) -> atomic units
        self.balances: LRUCache[tuple[str, str, str], int] = LRUCache(maxsize=balances)
        self.head: TTLCache[str, Any] = TTLCache(maxsize=1, ttl=head_ttl)
