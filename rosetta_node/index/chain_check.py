"""Where an index stands on the node's chain, for both followers (Transfer logs, history):
the database belongs to the node's chain (its genesis hash), and the fork point after a reorg.
"""

from __future__ import annotations

from typing import Protocol

from .errors import IndexerError
from .log_source import LogSource
from .model import Cursor, ReorgTooDeep


class ChainStore(Protocol):
    """What the checks read of a store: its metadata and the blocks it keeps."""

    async def get_meta(self, key: str) -> str | None: ...

    async def set_meta(self, key: str, value: str) -> None: ...

    async def floor(self) -> int | None: ...

    async def recent_blocks(self, below: int | None, limit: int) -> list[Cursor]: ...


async def check_genesis(store: ChainStore, source: LogSource) -> None:
    """Stamp a new database with the node's genesis hash; refuse one of another chain."""
    genesis = await source.header(0)
    if genesis is None:
        raise IndexerError("node has no genesis block")
    known = await store.get_meta("genesis_hash")
    if known is None:
        await store.set_meta("genesis_hash", genesis.hash)
    elif known != genesis.hash:
        raise IndexerError(
            f"the index database belongs to the chain with genesis {known}, "
            f"the node serves genesis {genesis.hash}"
        )


async def find_fork(store: ChainStore, source: LogSource) -> int:
    """The highest stored block the node still has on its canonical chain."""
    below: int | None = None
    floor = await store.floor()
    while True:
        stored = await store.recent_blocks(below, 64)
        if floor is not None:
            stored = [c for c in stored if c.number >= floor]  # older ones cannot be undone
        if not stored:
            raise ReorgTooDeep(
                f"no indexed block down to the floor {floor} is on the node's chain; the "
                "reorg is deeper than the retention: re-index"
            )
        headers = await source.headers([c.number for c in stored])
        for candidate in stored:
            header = headers[candidate.number]
            if header is not None and header.hash == candidate.hash:
                return candidate.number
        below = stored[-1].number
