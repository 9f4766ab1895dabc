"""Where an index stands on the node's chain, for both followers (Transfer logs, history):
the database belongs to the node's chain (its genesis hash), and the fork point after a reorg.
"""

from __future__ import annotations

import logging
from typing import Protocol

from .errors import IndexerError
from .log_source import LogSource
from .model import Cursor, ReorgTooDeep

log = logging.getLogger(__name__)


class ChainStore(Protocol):
    """What the checks read of a store: its metadata and the blocks it keeps."""

    async def get_meta(self, key: str) -> str | None: ...

    async def set_meta(self, key: str, value: str) -> None: ...

    async def floor(self) -> int | None: ...

    async def recent_blocks(self, below: int | None, limit: int) -> list[Cursor]: ...


class RollbackStore(ChainStore, Protocol):
    """A store that can go back to an earlier block (both indexes)."""

    async def cursor(self) -> Cursor | None: ...

    async def rollback_to(self, number: int) -> Cursor: ...


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


async def roll_back_to_fork(
    store: RollbackStore, source: LogSource, what: str
) -> tuple[Cursor, int]:
    """Roll ``store`` back to the fork point with the node's canonical chain; the new cursor,
    and 1 when a tip was orphaned (a reorg, logged), else 0."""
    before = await store.cursor()
    cursor = await store.rollback_to(await find_fork(store, source))
    if before is None or before.number == cursor.number:
        return cursor, 0
    log.warning(
        "%s reorg: tip %s (%s) orphaned; rolled back to block %s",
        what,
        before.number,
        before.hash,
        cursor.number,
    )
    return cursor, 1
