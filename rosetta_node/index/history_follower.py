"""Fill the history from ``/block``'s own builder: a backfill, then follow the head.

Each block is read as ``/block`` reads it (``Chain.block_data``: header, receipts, call
traces, uncles in one batch pinned to its hash) and turned into transactions by
``BlockService.transactions``, the very code that answers ``/block``, so the history can never
disagree with it. Blocks are read ``concurrency`` at a time in batches of ``batch``; a batch
must link by parent hash to the history's tip and within itself (a block that does not link
ends the batch there: a reorg while we read). A tip that is no longer canonical makes us roll
back to the fork point (:func:`.chain_check.find_fork`, shared with the Transfer follower),
which writes the ``block_removed`` events, and go on from there. The same loop backfills and
follows: a backfill is steps until the target, following is a step per poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ..engine.block import BlockService
from ..engine.node import NetworkEngine
from ..errors import CatalogError
from ..types import PartialBlockIdentifier
from .chain_check import check_genesis, roll_back_to_fork
from .errors import Inconsistent, IndexerError, Transient
from .history_model import HistoryBlock, HistoryStore
from .log_source import LogSource
from .model import ChainMismatch, Cursor
from .progress import ProgressCallback, ProgressEvent

log = logging.getLogger(__name__)


class HistoryFollower:
    """Keeps a :class:`HistoryStore` in step with the canonical chain of one network."""

    def __init__(
        self,
        engine: NetworkEngine,
        store: HistoryStore,
        start_block: int = 0,
        confirmations: int = 0,
        *,
        batch: int = 32,
        concurrency: int = 8,
        max_failures: int = 8,
        retry_delay: float = 0.5,
    ) -> None:
        if start_block < 0 or confirmations < 0:
            raise ValueError("start_block and confirmations must not be negative")
        self.engine = engine
        self.source = LogSource(engine.node)
        self.store = store
        self.start_block = start_block
        self.confirmations = confirmations
        self.batch = max(1, batch)
        self.concurrency = asyncio.Semaphore(max(1, concurrency))
        self.max_failures = max_failures
        self.retry_delay = retry_delay
        self.reorgs = 0
        self.blocks = 0
        self.operations = 0
        self._prepared = False

    @property
    def head(self) -> int | None:
        return self.source.head

    async def _prepare(self) -> Cursor | None:
        """Check the database belongs to this chain; anchor a new history at start - 1."""
        cursor = await self.store.cursor()
        if self._prepared:
            return cursor
        if not self.engine.connected:
            raise Transient(f"node of {self.engine.name} not probed yet")
        await check_genesis(self.store, self.source)
        if cursor is None and self.start_block > 0:
            before = await self.source.header(self.start_block - 1)
            if before is None:
                raise IndexerError(f"history start block {self.start_block} is above the head")
            anchor = HistoryBlock(before.number, before.hash, before.parent_hash, None)
            cursor = Cursor(before.number, before.hash)
            await self.store.apply([anchor], cursor)
        self._prepared = True
        return cursor

    async def recover(self) -> Cursor:
        """Roll the history back to the fork point with the node's canonical chain."""
        cursor, orphaned = await roll_back_to_fork(self.store, self.source, "history")
        self.reorgs += orphaned
        return cursor

    async def _read(self, number: int) -> HistoryBlock:
        """Block ``number`` as /block answers it."""
        async with self.concurrency:
            try:
                data = await self.engine.chain.block_data(PartialBlockIdentifier(index=number))
            except CatalogError as exc:  # (a NodeError too)
                if exc.error.retriable:
                    raise Transient(f"block {number}: {exc}") from None
                raise IndexerError(f"block {number}: {exc}") from None
        header = data.header
        txs = BlockService.transactions(self.engine, data)
        return HistoryBlock(header.number, header.hash, header.parent_hash, txs)

    async def step(
        self, to_block: int | None = None, progress: ProgressCallback | None = None
    ) -> int:
        """Handle a reorg at the tip, then index the next batch; returns blocks indexed."""
        tip = await self._prepare()
        head, at_tip = await self.source.latest_and(None if tip is None else tip.number)
        if tip is not None and (at_tip is None or at_tip.hash != tip.hash):
            tip = await self.recover()
        target = head.number - self.confirmations
        if to_block is not None:
            target = min(target, to_block)
        first = self.start_block if tip is None else tip.number + 1
        if target < first:
            return 0
        numbers = range(first, min(target, first + self.batch - 1) + 1)
        blocks = list(await asyncio.gather(*(self._read(n) for n in numbers)))
        linked: list[HistoryBlock] = []
        parent = None if tip is None else tip.hash
        for block in blocks:
            if parent is not None and block.parent_hash != parent:
                break
            linked.append(block)
            parent = block.hash
        if not linked:
            await self.recover()
            raise ChainMismatch(f"block {first} does not link to the tip: orphaned just now")
        last = linked[-1]
        await self.store.apply(linked, Cursor(last.number, last.hash))
        operations = sum(len(tx.operations) for b in linked for tx in b.transactions or ())
        self.blocks += len(linked)
        self.operations += operations
        if progress is not None:
            progress(
                ProgressEvent(
                    first_block=self.start_block,
                    target_block=target,
                    range_start=linked[0].number,
                    range_end=last.number,
                    logs=operations,
                    range_size=len(linked),
                )
            )
        return len(linked)

    async def _step_retrying(
        self, to_block: int | None, progress: ProgressCallback | None, failures: int
    ) -> tuple[int, int]:
        """(blocks indexed, failures so far): node trouble and reorgs while reading are
        retried after a pause, up to ``max_failures`` in a row."""
        try:
            return await self.step(to_block, progress), 0
        except (Transient, Inconsistent, ChainMismatch) as exc:
            failures += 1
            if failures > self.max_failures:
                raise IndexerError(f"history: giving up after {failures} failures: {exc}") from exc
            log.warning("history: %s (attempt %s)", exc, failures)
            await asyncio.sleep(self.retry_delay * min(failures, 10))
            return 0, failures

    async def backfill(
        self, to_block: int | None = None, progress: ProgressCallback | None = None
    ) -> Cursor | None:
        """Index up to ``to_block`` (default: head - confirmations); returns the cursor."""
        failures = 0
        while True:
            indexed, failures = await self._step_retrying(to_block, progress, failures)
            if indexed == 0 and failures == 0:
                return await self.store.cursor()

    async def follow(
        self,
        poll_interval: float = 1.0,
        stop: asyncio.Event | None = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        """Index to the head, then keep up with it until ``stop`` is set (or cancelled)."""
        stop = stop or asyncio.Event()
        failures = 0
        while not stop.is_set():
            indexed, failures = await self._step_retrying(None, progress, failures)
            if indexed or failures:
                continue  # maybe more blocks waiting (or retried after its pause)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), poll_interval)
