"""One network's Transfer-log index at run time (on :mod:`.follower_task`): its store, the
follower keeping it at the head, and its status for /readyz and the status answers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ..engine.node import NetworkEngine
from ..metrics import INDEX_HEAD, INDEX_LAG
from .follower import Indexer
from .follower_task import FollowerTask
from .model import Cursor, IndexStore, IndexStoreError
from .open import open_store
from .sqlite import damage


@dataclass(frozen=True, slots=True)
class IndexStatus:
    configured: bool
    running: bool
    cursor: Cursor | None
    head: int | None
    lag: int | None
    reorgs: int
    logs: int
    problem: str | None
    problems: list[str]  # what keeps the index from answering well (for /readyz)


class NetworkIndex(FollowerTask[IndexStore, Indexer]):
    """One network's index: its store and the follower task keeping it at the head."""

    what = "index"
    head_gauge = INDEX_HEAD
    lag_gauge = INDEX_LAG

    def __init__(self, engine: NetworkEngine) -> None:
        settings = engine.settings
        super().__init__(engine, bool(settings.index_db or settings.index_url))
        if not self.configured:
            self.problem = "no index_db or index_url configured"

    async def _open(self) -> IndexStore:
        if self.settings.index_db:  # (off the event loop: it reads the whole file)
            problem = await asyncio.to_thread(damage, self.settings.index_db)
            if problem is not None:
                raise IndexStoreError(problem)
        return open_store(self.settings, self.engine.name)

    def _follower(self, store: IndexStore) -> Indexer:
        return Indexer(
            self.engine.rpc,
            store,
            start_block=self.settings.index_start_block,
            confirmations=self.settings.index_confirmations,
        )

    async def status(self) -> IndexStatus:
        lag = await self.lag()
        return IndexStatus(
            configured=self.configured,
            running=self.running,
            cursor=lag.cursor,
            head=lag.head,
            lag=lag.lag,
            reorgs=0 if self.follower is None else self.follower.reorgs,
            logs=0 if self.follower is None else self.follower.logs,
            problem=self.problem,
            problems=lag.problems,
        )

    async def readiness(self) -> list[str]:
        """What keeps this index from answering well now (empty when fine or not configured)."""
        return (await self.status()).problems
