"""One network's store and the task that keeps it at the head, for both indexes (the
Transfer log and the history): opened once the node has named its chain, followed by the
replica holding the store's writer lock (a PostgreSQL standby waits, answering from the
shared store), restarted with a growing pause after a failure, and its lag for /readyz and
/metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from prometheus_client import Gauge

from ..engine.node import NetworkEngine
from .model import Cursor, WriterBusy
from .open import claim_writer

log = logging.getLogger(__name__)


class Store(Protocol):
    async def cursor(self) -> Cursor | None: ...

    async def close(self) -> None: ...


class Follower(Protocol):
    @property
    def head(self) -> int | None: ...

    async def follow(self, poll_interval: float, stop: asyncio.Event) -> None: ...


S = TypeVar("S", bound=Store)
F = TypeVar("F", bound=Follower)


@dataclass(frozen=True, slots=True)
class Lag:
    cursor: Cursor | None
    head: int | None  # the last head the follower saw
    lag: int | None
    problems: list[str]  # what keeps the store from answering well (for /readyz)


class FollowerTask(ABC, Generic[S, F]):
    what = "index"  # in logs and problems: "index of <network> ..."
    head_gauge: Gauge
    lag_gauge: Gauge

    def __init__(self, engine: NetworkEngine, configured: bool) -> None:
        self.engine = engine
        self.settings = engine.settings
        self.configured = configured
        self.store: S | None = None
        self.follower: F | None = None
        self.problem: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    @abstractmethod
    async def _open(self) -> S:
        """The store, opened (and checked); the writer lock is claimed here afterwards."""

    @abstractmethod
    def _follower(self, store: S) -> F:
        """A fresh follower (it checks the store belongs to the chain when it starts)."""

    def start(self) -> None:
        if self.configured and self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"{self.what} {self.engine.name}")

    async def _open_claimed(self) -> S:
        # The store is named after the network, known once the node told its chain id.
        while self.engine.identifier is None:
            await asyncio.sleep(0.5)
        store = await self._open()
        # A shared PostgreSQL store answers at once on every replica; only the one holding
        # the writer lock follows the head (a standby waits here and takes over).
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
        name = self.engine.name
        while not self._stop.is_set():
            try:
                store = self.store or await self._open_claimed()
                if self.follower is None:
                    self.follower = self._follower(store)
                self.problem = None
                await self.follower.follow(self.settings.index_poll_interval, self._stop)
                return
            except asyncio.CancelledError:
                raise
            except WriterBusy as exc:
                # Another replica took the writer lock (our session to PostgreSQL dropped):
                # answer from the shared store and stand by until the lock is free again.
                self.problem = None
                log.warning("%s %s: %s; standing by", self.what, name, exc)
                self.follower = None
                if self.store is not None:
                    poll = self.settings.index_poll_interval
                    await claim_writer(self.store, wait=True, poll=poll)
            except Exception as exc:  # the follower must outlive node trouble and bad files
                self.problem = f"{type(exc).__name__}: {exc}"
                log.error("%s %s stopped: %s; retrying in %.0f s", self.what, name, exc, delay)
                self.follower = None  # prepares again (genesis check, start block)
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

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def lag(self) -> Lag:
        """Where the store stands behind the head (and the gauges of /metrics set)."""
        cursor = None if self.store is None else await self.store.cursor()
        head = None if self.follower is None else self.follower.head
        lag = None if cursor is None or head is None else max(0, head - cursor.number)
        name = self.engine.name
        if cursor is not None:
            self.head_gauge.labels(name).set(cursor.number)
        if lag is not None:
            self.lag_gauge.labels(name).set(lag)
        return Lag(cursor, head, lag, self._problems(cursor, lag))

    def _problems(self, cursor: Cursor | None, lag: int | None) -> list[str]:
        if not self.configured:
            return []
        which = f"{self.what} of {self.engine.name}"
        problems = [f"{which}: {self.problem}"] if self.problem else []
        if cursor is None:
            return [*problems, f"{which} has not indexed a block yet"]
        bound = self.settings.index_max_lag
        if lag is not None and lag > bound:
            problems.append(f"{which} is {lag} blocks behind the head (bound {bound})")
        return problems
