"""Blocks by time: the block range whose timestamps fall in ``[start, end]``, found by binary
search over the canonical headers (about log2(head) header reads, each cached by the chain).

Timestamps never decrease along a chain (a header's must exceed its parent's), so the first
block at or after a time is well defined.
"""

from __future__ import annotations

from .chain import Chain


async def first_at_or_after(chain: Chain, timestamp: int, head: int) -> int:
    """The first block up to ``head`` whose timestamp is ``timestamp`` or later; ``head + 1``
    when there is none."""
    low, high = 0, head + 1
    while low < high:
        middle = (low + high) // 2
        if (await chain.by_number(middle)).timestamp >= timestamp:
            high = middle
        else:
            low = middle + 1
    return low


async def blocks_between(
    chain: Chain, start: int | None, end: int | None, head: int
) -> tuple[int | None, int | None]:
    """(first, last) block of the times ``start``..``end`` (inclusive; None: unbounded).
    ``first > last`` when no block falls in between."""
    first = None if start is None else await first_at_or_after(chain, start, head)
    last = None if end is None else await first_at_or_after(chain, end + 1, head) - 1
    return first, last
