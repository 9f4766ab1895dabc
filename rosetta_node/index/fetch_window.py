"""The fetch window of a backfill: several getLogs ranges in flight, handed out in order.

:class:`FetchWindow` keeps up to ``concurrency`` ranges of the :class:`RangeSizer`'s size
fetching ahead of the one the indexer waits for. A range the node refuses as too big is
split to the (shrunk) size and fetched again; one that fails otherwise is fetched again after
a pause; a range that keeps failing ends the run with :class:`IndexerError`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .errors import Inconsistent, IndexerError, TooLarge, Transient
from .log_source import FetchedRange
from .range_sizer import RangeSizer

log = logging.getLogger(__name__)

Fetch = Callable[[int, int], Awaitable[FetchedRange]]


@dataclass(slots=True)
class _Slot:
    start: int
    end: int
    task: asyncio.Future[FetchedRange] | None = None
    failures: int = 0


class FetchWindow:
    """Blocks ``start..target`` fetched ``concurrency`` ranges at a time, returned in order.

    Use as ``async with``: leaving it cancels the fetches still running.
    """

    def __init__(
        self,
        fetch: Fetch,
        sizer: RangeSizer,
        start: int,
        target: int,
        *,
        concurrency: int = 4,
        max_failures: int = 8,
        retry_delay: float = 0.5,
    ) -> None:
        self._fetch = fetch
        self._sizer = sizer
        self._next_start = start  # first block no slot covers yet
        self._target = target
        self._concurrency = max(1, concurrency)
        self._max_failures = max_failures
        self._retry_delay = retry_delay
        self._slots: deque[_Slot] = deque()  # in block order; the first is handed out next

    async def __aenter__(self) -> FetchWindow:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def next(self) -> FetchedRange | None:
        """The next range in block order, once fetched; None when ``target`` was handed out."""
        while True:
            self._fill()
            if not self._slots:
                return None
            slot = self._slots[0]
            assert slot.task is not None
            try:
                fetched = await slot.task
            except TooLarge as exc:
                await self._split(slot, exc)
            except (Transient, Inconsistent) as exc:
                await self._retry(slot, exc)
            else:
                self._slots.popleft()
                return fetched

    async def close(self) -> None:
        """Cancel the fetches still running (the pass failed or ended early)."""
        pending = [slot.task for slot in self._slots if slot.task is not None]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    def _fill(self) -> None:
        """Start fetches, earliest slots first, until ``concurrency`` run; then add slots."""
        running = 0
        for slot in self._slots:
            if slot.task is None and running < self._concurrency:
                slot.task = asyncio.ensure_future(self._fetch(slot.start, slot.end))
            if slot.task is not None:
                running += 1
        while running < self._concurrency and self._next_start <= self._target:
            end = min(self._target, self._next_start + self._sizer.size - 1)
            slot = _Slot(self._next_start, end)
            slot.task = asyncio.ensure_future(self._fetch(slot.start, end))
            self._slots.append(slot)
            running += 1
            self._next_start = end + 1

    async def _split(self, slot: _Slot, exc: TooLarge) -> None:
        """Replace the refused first slot by pieces of the shrunk range size."""
        self._slots.popleft()
        self._sizer.shrink(slot.end - slot.start + 1, exc.hint)
        if slot.start == slot.end:  # a single block cannot be split: count it as a failure
            slot.failures += 1
            if slot.failures > self._max_failures:
                raise IndexerError(
                    f"eth_getLogs fails even for block {slot.start} alone: {exc}"
                ) from exc
            await asyncio.sleep(self._retry_delay * slot.failures)
        log.debug("blocks %s..%s: %s; range now %s", slot.start, slot.end, exc, self._sizer.size)
        pieces = []
        start = slot.start
        while start <= slot.end:
            end = min(slot.end, start + self._sizer.size - 1)
            pieces.append(_Slot(start, end, failures=slot.failures))
            start = end + 1
        self._slots.extendleft(reversed(pieces))

    async def _retry(self, slot: _Slot, exc: Exception) -> None:
        """Fetch the failed first slot again after a pause (the next fill starts it)."""
        slot.failures += 1
        if slot.failures > self._max_failures:
            raise IndexerError(
                f"blocks {slot.start}..{slot.end}: giving up after {slot.failures} failures: {exc}"
            ) from exc
        log.warning("blocks %s..%s: %s; retrying", slot.start, slot.end, exc)
        await asyncio.sleep(self._retry_delay * slot.failures)
        slot.task = None
