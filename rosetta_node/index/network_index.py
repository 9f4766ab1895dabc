"""One network's index at run time: its store, the follower task keeping it at the head
(a standby replica waits for the writer lock), and its status for /readyz and the status
answers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from ..engine.node import NetworkEngine
from ..metrics import INDEX_HEAD, INDEX_LAG
from .follower import Indexer
from .model import Cursor, IndexStore, IndexStoreError, WriterBusy
from .open import claim_writer, open_store
from .sqlite import damage

log = logging.getLogger(__name__)


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


class NetworkIndex:
    """One network's index: its store and the follower task keeping it at the head."""

    def __init__(self, engine: NetworkEngine) -> None:
        self.engine = engine
        self.settings = engine.settings
        self.configured = bool(self.settings.index_db or self.settings.index_url)
        self.store: IndexStore | None = None
        self.indexer: Indexer | None = None
        self.problem: str | None = (
            None if self.configured else "no index_db or index_url configured"
        )
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    def start(self) -> None:
        if self.configured and self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"index {self.engine.name}")

    async def _open(self) -> IndexStore:
        # The store is named after the network, known once the node told its chain id.
        while self.engine.identifier is None:
            await asyncio.sleep(0.5)
        if self.settings.index_db:  # (off the event loop: it reads the whole file)
            problem = await asyncio.to_thread(damage, self.settings.index_db)
            if problem is not None:
                raise IndexStoreError(problem)
        store = open_store(self.settings, self.engine.name)
        # A PostgreSQL index is shared by replicas: this one answers from it at once, and
        # follows the head only once it holds the index's writer lock (one writer; a
        # standby waits here and takes over when the writer's session ends).
        self.store = store
        try:
            await claim_writer(store, wait=True, poll=self.settings.index_poll_interval)
        except asyncio.CancelledError:
            raise  # stop() closes self.store
        except BaseException:
            self.store = None
            await store.close()
            raise
        return store

    async def _run(self) -> None:
        delay = 1.0
        while not self._stop.is_set():
            try:
                if self.store is None:
                    self.store = await self._open()
                if self.indexer is None:
                    self.indexer = Indexer(
                        self.engine.rpc,
                        self.store,
                        start_block=self.settings.index_start_block,
                        confirmations=self.settings.index_confirmations,
                    )
                self.problem = None
                await self.indexer.follow(self.settings.index_poll_interval, self._stop)
                return
            except asyncio.CancelledError:
                raise
            except WriterBusy as exc:
                # Another replica took the writer lock (our session to PostgreSQL dropped):
                # answer from the shared index and stand by until the lock is free again.
                self.problem = None
                log.warning("index %s: %s; standing by", self.engine.name, exc)
                self.indexer = None
                if self.store is not None:
                    poll = self.settings.index_poll_interval
                    await claim_writer(self.store, wait=True, poll=poll)
            except Exception as exc:  # the follower must outlive node trouble and bad files
                self.problem = f"{type(exc).__name__}: {exc}"
                log.error("index %s stopped: %s; retrying in %.0f s", self.engine.name, exc, delay)
                self.indexer = None  # prepares again (genesis check, start block)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), delay)
                delay = min(delay * 2, 60.0)

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.store is not None:
            await self.store.close()
            self.store = None

    async def status(self) -> IndexStatus:
        cursor = None if self.store is None else await self.store.cursor()
        head = None if self.indexer is None else self.indexer.head
        lag = None if cursor is None or head is None else max(0, head - cursor.number)
        name = self.engine.name
        if cursor is not None:
            INDEX_HEAD.labels(name).set(cursor.number)
        if lag is not None:
            INDEX_LAG.labels(name).set(lag)
        return IndexStatus(
            configured=self.configured,
            running=self._task is not None and not self._task.done(),
            cursor=cursor,
            head=head,
            lag=lag,
            reorgs=0 if self.indexer is None else self.indexer.reorgs,
            logs=0 if self.indexer is None else self.indexer.logs,
            problem=self.problem,
            problems=self._problems(cursor, lag),
        )

    def _problems(self, cursor: Cursor | None, lag: int | None) -> list[str]:
        if not self.configured:
            return []
        problems = []
        if self.problem:
            problems.append(f"index of {self.engine.name}: {self.problem}")
        if cursor is None:
            return [*problems, f"index of {self.engine.name} has not indexed a block yet"]
        if lag is not None and lag > self.settings.index_max_lag:
            problems.append(
                f"index of {self.engine.name} is {lag} blocks behind the head "
                f"(bound {self.settings.index_max_lag})"
            )
        return problems

    async def readiness(self) -> list[str]:
        """What keeps this index from answering well now (empty when fine or not configured)."""
        return (await self.status()).problems
