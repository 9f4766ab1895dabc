"""The commit queue of a backfill: fetched ranges wait here for the (single) writer.

:class:`CommitQueue` runs one commit at a time in the background while the next ranges are
fetched. Ranges that arrive while a commit runs go into the next one, together: big commits
are much cheaper per log, and the writer sets the pace.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from .log_source import FetchedRange

Commit = Callable[[list[FetchedRange]], Awaitable[None]]


class CommitQueue:
    """Ranges, in block order, committed in batches by ``commit``; at most one at a time.

    Use as ``async with``: leaving it after a failure elsewhere still lets the commit that
    runs (of valid ranges) finish. Call :meth:`flush` to commit the rest.
    """

    def __init__(self, commit: Commit, max_logs: int, max_blocks: int = 10_000) -> None:
        self._commit = commit
        self._max_logs = max_logs  # commit sooner (waiting for the writer) past this many
        self._max_blocks = max_blocks
        self._running: asyncio.Future[None] | None = None
        self._ready: list[FetchedRange] = []  # fetched, checked, waiting for the writer
        self._ready_logs = 0
        self._ready_blocks = 0

    async def __aenter__(self) -> CommitQueue:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._running is not None:
            with contextlib.suppress(Exception):
                await self._running

    async def add(self, fetched: FetchedRange) -> None:
        """Queue a range; start a commit unless one runs and the queue is still small."""
        self._ready.append(fetched)
        self._ready_logs += fetched.logs
        self._ready_blocks += len(fetched.blocks)
        busy = self._running is not None and not self._running.done()
        if not busy or self._ready_logs >= self._max_logs or self._ready_blocks >= self._max_blocks:
            if self._running is not None:
                await self._running
            self._running = asyncio.ensure_future(self._commit(self._ready))
            self._ready, self._ready_logs, self._ready_blocks = [], 0, 0

    async def flush(self) -> None:
        """Wait for the running commit, then commit what is left."""
        if self._running is not None:
            running, self._running = self._running, None
            await running
        if self._ready:
            ready, self._ready = self._ready, []
            self._ready_logs = self._ready_blocks = 0
            await self._commit(ready)
