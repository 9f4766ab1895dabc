"""Fill the Transfer-log index from a node: a backfill in adaptive ranges, then follow the head.

Backfill: ``eth_getLogs`` over block ranges for the ERC-20 ``Transfer`` topic (any contract;
logs with exactly three topics: ERC-721 has four). The range adapts (:mod:`.range_sizer`):
it is halved (or cut to the range the node suggests) when the node says the range is too
large or times out; it doubles, up to a cap, when a range comes back with few logs quickly.
Up to ``concurrency`` ranges are fetched at once (:mod:`.fetch_window`) and committed in order
(:mod:`.commit_queue`). Each range is pinned to one chain (:mod:`.log_source`), and the block
before the range must be the block we indexed last; else the range is fetched again, or (the
indexed chain was orphaned) the index is rolled back to the fork point first.

Follow: poll the head; new blocks are read by number, must link by ``parentHash`` to the
indexed tip and to each other, and their logs are read by ``eth_getLogs({blockHash})`` so one
commit never mixes two branches. A tip that is no longer canonical (also when the new branch
is shorter) makes us walk back over the stored hashes to the fork point, roll back to it,
and index the canonical blocks from there.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging

from ..engine.chain import Header
from ..engine.node_client import NodeClient
from ..rpc import RpcClient
from .chain_check import check_genesis, find_fork, roll_back_to_fork
from .commit_queue import CommitQueue
from .errors import Inconsistent, IndexerError, Transient
from .fetch_window import FetchWindow
from .log_source import FetchedRange, LogSource
from .model import BlockLogs, ChainMismatch, Cursor, IndexStore
from .progress import ProgressCallback, ProgressEvent
from .range_sizer import RangeSizer

log = logging.getLogger(__name__)


class _Orphaned(Exception):
    """The block before the next range is not the block we indexed: our tip was orphaned."""


class Indexer:
    """Keeps an :class:`IndexStore` in step with the canonical chain of one node."""

    def __init__(
        self,
        rpc: RpcClient,
        store: IndexStore,
        start_block: int = 0,
        confirmations: int = 0,
        *,
        initial_range: int = 100,
        max_range: int = 10_000,
        target_logs: int = 10_000,
        log_timeout: float = 30.0,
        concurrency: int = 4,
        commit_logs: int = 50_000,
        bulk_threshold: int = 100_000,
        follow_batch: int = 64,
        catchup_threshold: int = 256,
        max_failures: int = 8,
        retry_delay: float = 0.5,
    ) -> None:
        if start_block < 0 or confirmations < 0:
            raise ValueError("start_block and confirmations must not be negative")
        self.source = LogSource(NodeClient(rpc), log_timeout)
        self.store = store
        self.start_block = start_block
        self.confirmations = confirmations
        self.sizer = RangeSizer(min(initial_range, max_range), max_range, target_logs=target_logs)
        self.concurrency = max(1, concurrency)
        self.commit_logs = max(1, commit_logs)
        self.bulk_threshold = bulk_threshold
        self.follow_batch = max(1, follow_batch)
        self.catchup_threshold = max(self.follow_batch, catchup_threshold)
        self.max_failures = max_failures
        self.retry_delay = retry_delay
        self.reorgs = 0
        self.ranges = 0
        self.logs = 0
        self._prepared = False
        self._failure_mark: int | None = None

    @property
    def head(self) -> int | None:
        """The last head the node reported."""
        return self.source.head

    # -- setup -------------------------------------------------------------------------------

    async def _prepare(self) -> Cursor | None:
        """Check the database belongs to this chain; start the cursor at start_block - 1."""
        cursor = await self.store.cursor()
        if self._prepared:
            return cursor
        await check_genesis(self.store, self.source)
        if cursor is None and self.start_block > 0:
            cursor = await self._start_before(self.start_block)
        elif cursor is not None:
            started = await self.store.get_meta("start_block")
            if started is not None and int(started) != self.start_block:
                log.info(
                    "index already started at block %s; resuming after block %s",
                    started,
                    cursor.number,
                )
        self._prepared = True
        return cursor

    async def _start_before(self, start_block: int) -> Cursor:
        """Store the block before ``start_block`` as the tip, so the first range links to it."""
        before = await self.source.header(start_block - 1)
        if before is None:
            raise IndexerError(f"start block {start_block} is above the node's head")
        block = BlockLogs(before.number, before.hash, before.parent_hash, [])
        await self.store.apply([block], Cursor(before.number, before.hash), head=self.head)
        await self.store.set_meta("start_block", str(start_block))
        return Cursor(before.number, before.hash)

    # -- reorgs ------------------------------------------------------------------------------

    async def find_fork(self) -> int:
        """The highest stored block the node still has on its canonical chain."""
        return await find_fork(self.store, self.source)

    async def recover(self) -> Cursor:
        """Roll the index back to the fork point with the node's canonical chain."""
        cursor, orphaned = await roll_back_to_fork(self.store, self.source, "index")
        self.reorgs += orphaned
        return cursor

    # -- backfill ----------------------------------------------------------------------------

    async def backfill(
        self,
        to_block: int | None = None,
        progress: ProgressCallback | None = None,
        *,
        bulk: bool | None = None,
    ) -> Cursor | None:
        """Index up to ``to_block`` (default: head - confirmations); returns the cursor.

        ``bulk`` (default: when more than ``bulk_threshold`` blocks are left) drops the
        store's query indexes for the run and builds them at the end; a run that is killed
        stays in bulk mode until a later backfill finishes.
        """
        failures = recoveries = 0
        while True:
            try:
                return await self._backfill_once(to_block, progress, bulk)
            except (_Orphaned, ChainMismatch) as exc:
                log.info("backfill: %s; looking for the fork point", exc)
                recoveries += 1
                if recoveries > 100:
                    raise IndexerError(f"the chain keeps reorganizing under us: {exc}") from exc
                try:
                    await self.recover()
                except (Transient, Inconsistent) as again:
                    failures = await self._failed(failures, again)
            except (Transient, Inconsistent) as exc:
                failures = await self._failed(failures, exc)

    async def _backfill_once(
        self, to_block: int | None, progress: ProgressCallback | None, bulk: bool | None
    ) -> Cursor | None:
        """One try of :meth:`backfill`; raises to be retried (or to recover first)."""
        head = await self.source.latest()
        tip = await self._prepare()
        if tip is not None:
            at_tip = await self.source.header(tip.number)
            if at_tip is None or at_tip.hash != tip.hash:
                raise _Orphaned(f"indexed block {tip.number} is no longer canonical")
        target = head.number - self.confirmations
        if to_block is not None:
            if to_block > head.number:
                log.warning("block %s is above the head %s", to_block, head.number)
            target = min(to_block, target)
        after = self.start_block - 1 if tip is None else tip.number
        use_bulk = target - after >= self.bulk_threshold if bulk is None else bulk
        if use_bulk and not await self.store.bulk():
            log.info("bulk load: query indexes are built when the backfill ends")
            await self.store.set_bulk(True)
        cursor = await self._backfill_pass(tip, target, head.number, progress)
        if await self.store.bulk():
            log.info("building the query indexes")
            await self.store.set_bulk(False)
        return cursor

    async def _failed(self, failures: int, exc: Exception) -> int:
        cursor = await self.store.cursor()
        if cursor is not None and cursor.number != self._failure_mark:
            self._failure_mark = cursor.number  # progress since the last failure
            failures = 0
        failures += 1
        if failures > self.max_failures:
            raise IndexerError(f"giving up after {failures} failures: {exc}") from exc
        log.warning("index: %s (attempt %s)", exc, failures)
        await asyncio.sleep(self.retry_delay * min(failures, 10))
        return failures

    async def _backfill_pass(
        self,
        tip: Cursor | None,
        target: int,
        head: int,
        progress: ProgressCallback | None,
    ) -> Cursor | None:
        """Index blocks after ``tip`` up to ``target``: fetch ranges ahead, commit in order."""
        first = self.start_block if tip is None else tip.number + 1
        commit = functools.partial(
            self._commit, head=head, first=first, target=target, progress=progress
        )
        window = FetchWindow(
            self.source.fetch_range,
            self.sizer,
            first,
            target,
            concurrency=self.concurrency,
            max_failures=self.max_failures,
            retry_delay=self.retry_delay,
        )
        # Leaving: the window cancels its fetches first, then the running commit finishes.
        async with CommitQueue(commit, self.commit_logs) as commits, window:
            while (fetched := await window.next()) is not None:
                if tip is not None and fetched.prev_hash not in (None, tip.hash):
                    raise _Orphaned(
                        f"block {tip.number} is now {fetched.prev_hash}, we indexed {tip.hash}"
                    )
                self.sizer.record(fetched.end - fetched.start + 1, fetched.logs, fetched.seconds)
                tip = fetched.cursor
                await commits.add(fetched)
            await commits.flush()
        return tip

    async def _commit(
        self,
        ranges: list[FetchedRange],
        head: int,
        first: int,
        target: int,
        progress: ProgressCallback | None,
    ) -> None:
        blocks = [block for r in ranges for block in r.blocks]
        cursor = ranges[-1].cursor
        await self.store.apply(blocks, cursor, head=max(head, self.head or 0))
        logs = sum(r.logs for r in ranges)
        self.ranges += len(ranges)
        self.logs += logs
        if progress is not None:
            progress(
                ProgressEvent(
                    first_block=first,
                    target_block=target,
                    range_start=ranges[0].start,
                    range_end=ranges[-1].end,
                    logs=logs,
                    range_size=self.sizer.size,
                )
            )

    # -- follow ------------------------------------------------------------------------------

    async def poll(self, progress: ProgressCallback | None = None) -> int:
        """One step at the head: handle a reorg, index new blocks; returns blocks indexed."""
        tip = await self._prepare()
        head, at_tip = await self.source.latest_and(None if tip is None else tip.number)
        if tip is not None and (at_tip is None or at_tip.hash != tip.hash):
            tip = await self.recover()
        target = head.number - self.confirmations
        next_number = self.start_block if tip is None else tip.number + 1
        if target < next_number:
            return 0
        if target - next_number + 1 > self.catchup_threshold:
            after = await self._backfill_pass(tip, target, head.number, progress)
            return 0 if after is None else after.number - next_number + 1
        last = min(target, next_number + self.follow_batch - 1)
        chain = await self._linked_headers(tip, next_number, last)
        if not chain:
            return 0
        blocks, count = await self.source.block_logs(chain)
        if not blocks:
            return 0
        tip_block = blocks[-1]
        await self.store.apply(blocks, Cursor(tip_block.number, tip_block.hash), head=head.number)
        self.logs += count
        if progress is not None:
            progress(
                ProgressEvent(
                    first_block=next_number,
                    target_block=target,
                    range_start=blocks[0].number,
                    range_end=tip_block.number,
                    logs=count,
                    range_size=len(blocks),
                )
            )
        return len(blocks)

    async def _linked_headers(self, tip: Cursor | None, first: int, last: int) -> list[Header]:
        """The headers ``first..last`` that link to ``tip`` and each other, up to a gap.

        Rolls back (and returns none) if the first one does not link: the tip was orphaned.
        """
        numbers = list(range(first, last + 1))
        headers = await self.source.headers(numbers)
        chain: list[Header] = []
        parent = None if tip is None else tip.hash
        for number in numbers:
            header = headers[number]
            if header is None:
                break
            if parent is not None and header.parent_hash != parent:
                if not chain:
                    await self.recover()  # the tip was orphaned just now
                break  # a reorg while we read: index the linked part, the rest next time
            chain.append(header)
            parent = header.hash
        return chain

    async def follow(
        self,
        poll_interval: float = 1.0,
        stop: asyncio.Event | None = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        """Backfill to the head, then keep up with it until ``stop`` is set (or cancelled)."""
        stop = stop or asyncio.Event()
        await self.backfill(progress=progress)
        failures = 0
        while not stop.is_set():
            try:
                indexed = await self.poll(progress)
                failures = 0
            except (Transient, Inconsistent, _Orphaned, ChainMismatch) as exc:
                failures += 1
                log.warning("index follow: %s (attempt %s)", exc, failures)
                indexed = 0
                await asyncio.sleep(min(self.retry_delay * failures, 30.0))
                continue
            if indexed:
                continue  # maybe more blocks waiting
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), poll_interval)
