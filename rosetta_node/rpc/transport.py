"""A lean HTTP/1.1 keep-alive client for JSON-RPC POSTs, on asyncio Protocols.

All we ever send is ``POST <path>`` with a JSON body to one URL, so a general HTTP client
(aiohttp) costs far more CPU per call than the exchange needs. This module keeps a bounded
LIFO pool of persistent connections per event loop, writes each request in one ``write``,
and parses answers with ``httptools`` (llhttp, in C): Content-Length, chunked, or read until
close. Errors carry short fixed reasons, never the URL: it may hold credentials.

A connection is reused only after a complete answer the server allowed to keep alive; any
failure, timeout or cancellation closes it, so a late answer is never read by the next
request. A request on a reused connection that the server had closed meanwhile (no answer
byte at all) is retried once on a fresh connection: the keep-alive race. Every call sent
through here is an idempotent read, so repeating it is safe.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
from collections import deque
from typing import cast
from urllib.parse import unquote, urlsplit

import httptools

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Idle connections older than this are closed, not reused (aiohttp's keepalive_timeout, what
# we had before): load balancers and NATs drop quiet flows without a FIN, and a request on
# such a connection would wait for its timeout instead of failing at once.
IDLE_TIMEOUT = 15.0


class TransportError(Exception):
    """The HTTP exchange failed; ``reason`` is a short, URL-free name for errors and logs."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Stale(TransportError):
    """The connection was closed (or reset) before any byte of the answer arrived."""


class HttpTransport:
    """POSTs bodies to one ``http(s)://`` URL over pooled keep-alive connections."""

    def __init__(self, url: str, *, max_connections: int = 32) -> None:
        self.max_connections = max(1, max_connections)
        self._pool: _Pool | None = None
        self._ssl: ssl.SSLContext | None = None
        self._invalid: str | None = None
        self._host = ""
        self._port = 0
        self._tls = False
        self._head = b""
        try:
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
            host = parts.hostname
            if scheme not in _DEFAULT_PORTS or not host:
                raise ValueError
            port = parts.port or _DEFAULT_PORTS[scheme]
        except ValueError:
            # Reported on use, like any other failure to reach the node; the message never
            # quotes the URL (it may hold credentials).
            self._invalid = "InvalidURL"
            return
        self._host, self._port, self._tls = host, port, scheme == "https"
        host_header = f"[{host}]" if ":" in host else host
        if parts.port is not None and parts.port != _DEFAULT_PORTS[scheme]:
            host_header = f"{host_header}:{port}"
        target = parts.path or "/"
        if parts.query:
            target = f"{target}?{parts.query}"
        lines = [
            f"POST {target} HTTP/1.1",
            f"Host: {host_header}",
            "Content-Type: application/json",
        ]
        if parts.username is not None or parts.password is not None:
            userinfo = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
            token = base64.b64encode(userinfo.encode()).decode("ascii")
            lines.append(f"Authorization: Basic {token}")
        # Everything but the length is the same for every request: built once.
        self._head = ("\r\n".join(lines) + "\r\nContent-Length: ").encode("utf-8")

    async def post(self, body: bytes, timeout: float) -> tuple[int, bytes]:
        """(HTTP status, body) of one POST; ``timeout`` covers connect, write and read.

        Raises TimeoutError, or TransportError for anything else that went wrong.
        """
        if self._invalid is not None:
            raise TransportError(self._invalid)
        loop = asyncio.get_running_loop()
        pool = self._pool
        if pool is None or pool.loop is not loop:
            pool = self._new_pool(loop)
        now = loop.time()
        deadline = now + timeout
        data = b"%b%d\r\n\r\n%b" % (self._head, len(body), body)
        conn: _Connection | None = None
        try:
            # The common case, inline: the most recently used idle connection.
            if pool.idle:
                conn = pool.idle.pop()
                conn.idle = False
                if now - conn.idle_since > IDLE_TIMEOUT:
                    conn.close()  # its slot is ours: a fresh connection in it
                    conn = None
                    conn = await self._connect(pool, deadline)
            else:
                conn = await self._acquire(pool, deadline)
            reused = conn.served > 0
            try:
                result = await conn.request(data, deadline)
            except _Stale:
                if not reused:
                    raise
                # The server closed this idle connection as we wrote: once, on a fresh one.
                conn.close()
                conn = None
                conn = await self._connect(pool, deadline)
                result = await conn.request(data, deadline)
        except BaseException:
            # A failed, timed out or cancelled exchange leaves the connection unusable.
            if conn is not None:
                pool.discard(conn)
            raise
        if conn.reusable:
            pool.release(conn)
        else:
            pool.discard(conn)
        return result

    async def close(self) -> None:
        """Closes every connection; a later POST opens new ones."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
            await asyncio.sleep(0)  # let the transports' connection_lost run

    def _new_pool(self, loop: asyncio.AbstractEventLoop) -> _Pool:
        # A client moved to another event loop (tests run one asyncio.run after another):
        # the old loop's connections cannot serve this one.
        if self._pool is not None:
            self._pool.close()
        self._pool = _Pool(loop, self.max_connections)
        return self._pool

    async def _acquire(self, pool: _Pool, deadline: float) -> _Connection:
        """With no idle connection: a new one within the bound, or the next one released."""
        if pool.size < pool.limit:
            pool.size += 1
            return await self._connect(pool, deadline)
        waiter: asyncio.Future[_Connection | None] = pool.loop.create_future()
        pool.waiters.append(waiter)
        try:
            async with asyncio.timeout_at(deadline):
                handed = await waiter
        except BaseException:
            # Handed a connection (or a slot) in the same iteration it was cancelled: pass
            # it on, or the pool would shrink for good.
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                given = waiter.result()
                if given is None:
                    pool.free_slot()
                else:
                    pool.release(given)
            else:
                waiter.cancel()
            raise
        if handed is None or handed.closed:
            return await self._connect(pool, deadline)  # its slot is ours now
        return handed

    async def _connect(self, pool: _Pool, deadline: float) -> _Connection:
        """A new connection in a slot the caller already holds; frees the slot on failure."""
        conn = _Connection(pool)
        try:
            if self._tls and self._ssl is None:
                self._ssl = ssl.create_default_context()
            async with asyncio.timeout_at(deadline):
                await pool.loop.create_connection(
                    lambda: conn, self._host, self._port, ssl=self._ssl if self._tls else None
                )
        except TimeoutError:  # (an OSError too, but ours to report as a timeout)
            pool.free_slot()
            conn.close()
            raise
        except OSError as exc:
            pool.free_slot()
            raise TransportError(type(exc).__name__) from None
        except BaseException:
            pool.free_slot()
            conn.close()
            raise
        return conn


class _Pool:
    """One event loop's connections: ``size`` counts open, opening and handed-out ones."""

    __slots__ = ("loop", "limit", "size", "idle", "waiters", "conns", "closed")

    def __init__(self, loop: asyncio.AbstractEventLoop, limit: int) -> None:
        self.loop = loop
        self.limit = limit
        self.size = 0
        self.closed = False
        self.idle: list[_Connection] = []  # LIFO: the warmest connection first
        # Futures of requests waiting at the bound: given a connection, or None for a slot.
        self.waiters: deque[asyncio.Future[_Connection | None]] = deque()
        self.conns: set[_Connection] = set()

    def release(self, conn: _Connection) -> None:
        if self.closed:  # a request that was in flight when the pool was closed
            conn.close()
            return
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        conn.idle = True
        conn.idle_since = now = self.loop.time()
        idle = self.idle
        idle.append(conn)
        # LIFO leaves surplus connections at the bottom, unused: close them once too old.
        while now - idle[0].idle_since > IDLE_TIMEOUT:
            stale = idle.pop(0)
            stale.idle = False
            self.discard(stale)

    def discard(self, conn: _Connection) -> None:
        conn.close()
        self.free_slot()

    def free_slot(self) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the waiter opens a connection in this slot
                return
        self.size -= 1

    def lost(self, conn: _Connection) -> None:
        self.conns.discard(conn)
        if conn.idle:  # closed by the server while idle: its slot is free again
            conn.idle = False
            self.idle.remove(conn)
            self.free_slot()

    def close(self) -> None:
        self.closed = True
        for waiter in self.waiters:
            # Raises when the pool's event loop is already closed: its waiters are gone.
            with contextlib.suppress(RuntimeError):
                if not waiter.done():
                    waiter.set_exception(TransportError("ClientClosed"))
        self.waiters.clear()
        for conn in self.idle:
            conn.idle = False
        self.idle.clear()
        for conn in list(self.conns):
            conn.close()
        self.size = 0


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection and the answer it is reading."""

    def __init__(self, pool: _Pool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.parts: list[bytes] = []
        self.got_bytes = False  # any byte of the current answer
        self.headers_done = False
        self.framed = False  # Content-Length or Transfer-Encoding: not read-until-close
        self.reusable = True  # until the server says close or anything goes wrong
        self.closed = False
        self.idle = False
        self.served = 0
        self.idle_since = 0.0
        self.timer: asyncio.TimerHandle | None = None  # the current request's deadline

    def request(self, data: bytes, deadline: float) -> asyncio.Future[tuple[int, bytes]]:
        loop = self.pool.loop
        waiter: asyncio.Future[tuple[int, bytes]] = loop.create_future()
        if self.closed or self.transport is None:
            waiter.set_exception(_Stale("ServerDisconnected"))
            return waiter
        self.waiter = waiter
        self.got_bytes = self.headers_done = self.framed = False
        self.parts = []
        try:
            self.transport.write(data)
        except (OSError, RuntimeError):  # a transport already closing under us
            self._fail(_Stale("ServerDisconnected"))
            return waiter
        self.timer = loop.call_at(deadline, _expire, waiter)
        return waiter

    def close(self) -> None:
        self.reusable = False
        self._stop_timer()
        if not self.closed:
            self.closed = True
            if self.transport is not None:
                # Raises when its event loop is already closed: nothing left to tidy then.
                with contextlib.suppress(Exception):
                    self.transport.close()

    def _stop_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _fail(self, error: Exception) -> None:
        self.reusable = False
        self._stop_timer()
        waiter = self.waiter
        self.waiter = None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)
        if self.transport is not None:
            self.closed = True
            self.transport.abort()

    # -- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but behave as one.
        self.transport = cast(asyncio.Transport, transport)
        self.pool.conns.add(self)

    def data_received(self, data: bytes) -> None:
        if self.waiter is None:
            # Bytes nobody asked for (or after a failure): the framing is lost for good.
            self._fail(TransportError("UnexpectedData"))
            return
        self.got_bytes = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(TransportError("UnexpectedUpgrade"))
        except httptools.HttpParserError:
            self._fail(TransportError("MalformedResponse"))

    def eof_received(self) -> bool | None:
        return None  # close our side too; connection_lost decides what the EOF meant

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.reusable = False
        self._stop_timer()
        self.pool.lost(self)
        waiter = self.waiter
        self.waiter = None
        if waiter is None or waiter.done():
            return
        if exc is None and self.headers_done and not self.framed:
            # No Content-Length, not chunked: the body is everything up to the close.
            waiter.set_result((self.parser.get_status_code(), b"".join(self.parts)))
        elif not self.got_bytes:
            waiter.set_exception(_Stale("ServerDisconnected"))
        elif exc is not None:
            waiter.set_exception(TransportError(type(exc).__name__))
        else:
            waiter.set_exception(TransportError("TruncatedResponse"))

    # -- httptools callbacks (they must not raise) ----------------------------------------

    def on_message_begin(self) -> None:
        if self.waiter is None:  # a second answer to one request
            self.reusable = False

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(name) in (14, 17):  # cheap filter before lower()
            lowered = name.lower()
            if lowered == b"content-length" or lowered == b"transfer-encoding":
                self.framed = True

    def on_headers_complete(self) -> None:
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        self.parts.append(body)

    def on_message_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200:  # an interim answer (100 Continue): the real one follows
            self.headers_done = self.framed = False
            self.parts = []
            return
        waiter = self.waiter
        self.waiter = None
        self._stop_timer()
        if not self.parser.should_keep_alive():
            self.reusable = False
        if waiter is None or waiter.done():
            self.reusable = False
            return
        parts = self.parts
        self.parts = []
        self.served += 1
        waiter.set_result((status, parts[0] if len(parts) == 1 else b"".join(parts)))


def _expire(waiter: asyncio.Future[tuple[int, bytes]]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())
