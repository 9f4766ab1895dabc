"""A real headless Chromium (Debian's ``chromium`` package) driven over the DevTools protocol.

:class:`Browser` starts ``chromium --headless`` on a free debugging port with a temp profile and
stops it (by pid) afterwards; :meth:`Browser.page` opens a tab whose :class:`Page` sends CDP
commands and keeps the network responses it sees. The websocket is aiohttp's (a test
dependency already), so no browser-automation package is needed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from rosetta_node.devnet import free_port

BINARIES = ("chromium", "chromium-browser", "google-chrome")


def chromium_binary() -> str:
    for name in BINARIES:
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError(
        "no Chromium found: scripts/test installs Debian's chromium package "
        "(apt-get install chromium) when it runs as root; install it yourself otherwise"
    )


class Page:
    """One tab: CDP commands by :meth:`send`, and every network response seen."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.waiting: dict[int, asyncio.Future[Any]] = {}
        self.responses: list[dict[str, Any]] = []  # Network.responseReceived params
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            data = json.loads(message.data)
            if "id" in data and data["id"] in self.waiting:
                self.waiting.pop(data["id"]).set_result(data)
            elif data.get("method") == "Network.responseReceived":
                self.responses.append(data["params"])

    async def send(self, method: str, **params: Any) -> Any:
        ident = next(self.ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.waiting[ident] = future
        await self.ws.send_str(json.dumps({"id": ident, "method": method, "params": params}))
        reply = await asyncio.wait_for(future, 30)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    async def evaluate(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = 30.0) -> Any:
        """Until ``expression`` is truthy in the page; its value (returned by value: wrap an
        element in ``!!(...)``, it comes back as an empty object)."""
        deadline = time.monotonic() + timeout
        while True:
            value = await self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"never true in the page: {expression}")
            await asyncio.sleep(0.2)

    async def screenshot(self, path: Path) -> Path:
        shot = await self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


class Browser:
    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.profile = Path(tempfile.mkdtemp(prefix="rosetta-chromium-"))
        self.port = 0

    def start(self) -> Browser:
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                chromium_binary(),
                "--headless=new",
                "--no-sandbox",  # tests may run as root, where the sandbox refuses to start
                "--disable-gpu",
                "--no-first-run",
                "--disable-extensions",
                "--window-size=1280,2000",
                f"--remote-debugging-port={self.port}",
                "--remote-debugging-address=127.0.0.1",
                f"--user-data-dir={self.profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.profile, ignore_errors=True)

    @contextlib.asynccontextmanager
    async def page(self) -> AsyncIterator[Page]:
        async with aiohttp.ClientSession() as session:
            target = await self._page_target(session)
            async with session.ws_connect(target, max_msg_size=64 * 2**20) as ws:
                page = Page(ws)
                try:
                    for domain in ("Page", "Runtime", "Network"):
                        await page.send(f"{domain}.enable")
                    yield page
                finally:
                    page.reader.cancel()

    async def _page_target(self, session: aiohttp.ClientSession) -> str:
        """The websocket of the first tab, once the browser answers (it takes a moment)."""
        deadline = time.monotonic() + 30
        while True:
            try:
                url = f"http://127.0.0.1:{self.port}/json/list"
                async with session.get(url) as answer:
                    for target in await answer.json():
                        if target.get("type") == "page":
                            return str(target["webSocketDebuggerUrl"])
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline or (self.process and self.process.poll() is not None):
                raise RuntimeError("headless Chromium did not start")
            await asyncio.sleep(0.2)
