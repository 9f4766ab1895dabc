"""A JSON-RPC endpoint of the test's own on a free loopback port, for faults a real node
cannot produce on demand (answers out of order, malformed, refused)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from aiohttp import web

from rosetta_node.devnet import free_port


@asynccontextmanager
async def serve(handle: Callable[[web.Request], Awaitable[web.Response]]) -> AsyncIterator[str]:
    """Serves ``handle`` for POST /; yields the URL, stops the server afterwards."""
    app = web.Application()
    app.router.add_post("/", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        await runner.cleanup()
