"""Chain data to Rosetta objects: one service per API group, no HTTP here."""

from __future__ import annotations

import asyncio
import contextlib

from ..settings import Settings
from .account import AccountService
from .block import BlockService
from .call import CallService
from .mempool import MempoolService
from .network import NetworkService
from .node import ChainIdMismatch, NetworkEngine, Networks

__all__ = ["ChainIdMismatch", "Engine", "NetworkEngine", "Networks"]


class Engine:
    """All configured networks and the services that answer for them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.networks = Networks([NetworkEngine(n) for n in settings.networks])
        self.network = NetworkService(self.networks)
        self.account = AccountService(self.networks)
        self.block = BlockService(self.networks)
        self.mempool = MempoolService(self.networks)
        self.call = CallService(self.networks)
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Keep every node connection probed in the background (a sidecar may start first)."""
        for engine in self.networks.all():
            self._tasks.append(asyncio.create_task(engine.keep_connected()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        for engine in self.networks.all():
            await engine.close()
