"""A JSON-RPC proxy in front of anvil that injects faults a real node will not make on demand.

Tests only. It forwards each POST to anvil unless a fault is armed: ``delay`` (sleep before
answering), ``status`` (an HTTP error), ``garbage`` (a body that is not JSON), ``truncate``
(half of the real answer), ``reset`` (close the connection), ``batch_error`` (replace one element
of a batch answer with a JSON-RPC error). Faults apply to the next ``count`` requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from rosetta_node.devnet import free_port
from tests.support.node import NodeProcess


@dataclass
class Fault:
    kind: str
    count: int = 1_000_000
    seconds: float = 0.0
    status: int = 502


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.fault: Fault | None = None
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0  # the most requests the proxy held at once
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    def start(self) -> FaultProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def arm(self, kind: str, **options: Any) -> None:
        self.fault = Fault(kind, **options)

    def disarm(self) -> None:
        self.fault = None

    async def _start(self) -> None:
        self._session = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_post("/", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def _take(self) -> Fault | None:
        fault = self.fault
        if fault is None or fault.count <= 0:
            return None
        fault.count -= 1
        return fault

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._answer(request)
        finally:
            self.in_flight -= 1

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        fault = self._take()
        if fault is not None and fault.kind == "delay":
            await asyncio.sleep(fault.seconds)
        if fault is not None and fault.kind == "status":
            return web.Response(status=fault.status, text="upstream trouble")
        if fault is not None and fault.kind == "garbage":
            return web.Response(body=b"<html>not json", content_type="application/json")
        if fault is not None and fault.kind == "reset":
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        assert self._session is not None
        async with self._session.post(
            self.upstream, data=body, headers={"Content-Type": "application/json"}
        ) as answer:
            raw = await answer.read()
        if fault is not None and fault.kind == "truncate":
            raw = raw[: len(raw) // 2]
        if fault is not None and fault.kind == "batch_error":
            decoded = json.loads(raw)
            if isinstance(decoded, list) and decoded:
                decoded[-1] = {
                    "jsonrpc": "2.0",
                    "id": decoded[-1]["id"],
                    "error": {"code": -32000, "message": "injected failure"},
                }
            raw = json.dumps(decoded).encode()
        return web.Response(body=raw, content_type="application/json")


@contextlib.contextmanager
def node_behind_proxy(
    upstream: str, env: Mapping[str, str], args: Sequence[str] = (), chain_id: int = 31337
) -> Iterator[tuple[FaultProxy, NodeProcess]]:
    """A :class:`FaultProxy` in front of ``upstream`` and our node reading the chain through
    it (started, ready); both stopped afterwards."""
    proxy = FaultProxy(upstream).start()
    process = NodeProcess(["--rpc-url", proxy.url, "--chain-id", str(chain_id), *args], env=env)
    try:
        process.wait()
        yield proxy, process
    finally:
        process.stop()
        proxy.stop()
