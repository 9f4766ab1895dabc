"""Bounded caches for one network, keyed by block hash.

A block hash names immutable data (header, operations, state), so entries never go stale;
a reorg just makes them unreachable. Only the head is cached by time, and briefly. The one
mapping keyed by number, ``canonical``, holds finalized blocks only (see Chain.by_number).
"""

from __future__ import annotations

from .metrics import CountingLRU, CountingTTL


class ChainCache:
    def __init__(
        self,
        *,
        headers: int = 20_000,
        canonical: int = 100_000,
        blocks: int = 256,
        balances: int = 200_000,
        head_ttl: float = 0.25,
    ) -> None:
        self.headers = CountingLRU("headers", headers)
        self.blocks = CountingLRU("blocks", blocks)
        # (block hash, address) -> engine.balances.AccountState: all read of it so far
        self.balances = CountingLRU("balances", balances)
        self.head = CountingTTL("head", 1, head_ttl)
        # block number -> hash, for blocks at or below the node's finalized block only
        self.canonical = CountingLRU("canonical", canonical)
