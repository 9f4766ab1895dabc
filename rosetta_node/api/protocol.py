"""The HTTP connection edge: uvicorn's httptools protocol with bounds on what one client holds.

uvicorn bounds none of these (measured in issue 15: 50 connections each sending an 8 MB header
took the node to 459 MB; 500 connections sending a header line every 5 s all stayed open):

- **Head size**: the request line and headers at most ``max_header_bytes``; past it the client
  gets a 431 and the connection closes, before the parser has buffered more than one read.
- **Time to send a request**: its whole head and body within ``client_timeout`` seconds of
  the connection (the first request) or of its first byte (the next ones): per request, not
  per read, so a byte every few seconds does not keep it alive. A head not complete by then
  gets a 408; a body still arriving is the route's to refuse in its own error format (the
  deadline is in the scope, :data:`READ_DEADLINE`), and the connection closes shortly after.
- **Open connections**: at most ``max_connections``. Past it, the connection that has waited
  longest for its request (a slow or idle one) is closed to make room, so a crowd of slow
  clients cannot starve the others; when every one is busy with a received request, the new
  connection gets a 503 and is closed.

The parser, the ASGI cycle and keep-alive stay uvicorn's (``HttpToolsProtocol``): the hot
path gains one addition per read and two timer updates per request (``bench/slow_clients.py``).
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections.abc import Sequence
from typing import Any, ClassVar

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)

READ_DEADLINE = "rosetta_node.read_deadline"  # scope["extensions"] key: loop time
_GRACE_S = 1.0  # after the deadline, how long a route reading a body has to answer
# Descriptors kept for everything but clients: the node pools, index files, logs, imports.
_RESERVED_FDS = 64


def _plain(status: bytes, message: bytes) -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(message), message)
    )


_HEAD_TOO_LARGE = _plain(
    b"431 Request Header Fields Too Large", b'{"code":431,"message":"request head too large"}'
)
_TOO_SLOW = _plain(b"408 Request Timeout", b'{"code":408,"message":"request not received in time"}')
_BUSY = _plain(
    b"503 Service Unavailable\r\nretry-after: 1",
    b'{"code":503,"message":"too many open connections; retry shortly"}',
)


class _HeadTooLarge(Exception):
    pass


class GuardedProtocol(HttpToolsProtocol):
    """Set by :func:`protocol_class` (uvicorn builds one per connection with its own args)."""

    max_header_bytes: ClassVar[int] = 65_536
    client_timeout: ClassVar[float] = 10.0
    max_connections: ClassVar[int] = 1000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes: int | None = 0  # bytes of the head so far; None once it is complete
        self._timer: asyncio.TimerHandle | None = None
        self._deadline = 0.0
        self._begun = False  # a request's first byte came and it is not complete yet
        self._grace = False
        # Since when the connection waits for a whole request (None: it has one, being
        # answered): the eviction order when the connections are at the cap.
        self.waiting_since: float | None = None

    # -- connections -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.max_connections and not self._make_room():
            self.transport = transport
            transport.write(_BUSY)
            transport.close()
            return
        super().connection_made(transport)
        self.waiting_since = self.loop.time()
        self._arm()

    def _make_room(self) -> bool:
        waiting = [
            (c.waiting_since, c)
            for c in self.connections
            if isinstance(c, GuardedProtocol) and c.waiting_since is not None
        ]
        if not waiting:
            return False
        _, oldest = min(waiting, key=lambda pair: pair[0])
        oldest.drop(_BUSY)
        return True

    def drop(self, answer: bytes) -> None:
        """Close this connection, telling a client in the middle of a request why."""
        self.connections.discard(self)  # room now: the close completes a loop turn later
        self.waiting_since = None
        if self._begun and (self.cycle is None or not self.cycle.response_started):
            self.transport.write(answer)
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self.waiting_since = None
        super().connection_lost(exc)

    # -- reads -------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._head_bytes is not None:
            self._head_bytes += len(data)
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, _HeadTooLarge):
                self.drop(_HEAD_TOO_LARGE)
                return
            self._bad_request()
            return
        except httptools.HttpParserError:
            self._bad_request()
            return
        except httptools.HttpParserUpgrade:
            self._unsupported_upgrade_warning()  # no websockets served
            return
        if self._head_bytes is not None and self._head_bytes > self.max_header_bytes:
            self.drop(_HEAD_TOO_LARGE)  # still no end of the head in sight

    def _bad_request(self) -> None:
        msg = "Invalid HTTP request received."
        self.logger.warning(msg)
        self.send_400_response(msg)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._begun = True
        if self._timer is None:
            self._arm()
        self.scope["extensions"] = {READ_DEADLINE: self._deadline}  # type: ignore[dict-item]

    def on_headers_complete(self) -> None:
        if self._head_bytes is not None and self._head_bytes > self.max_header_bytes:
            # The read that completed the head also carried body bytes: measure the head.
            size = len(self.url) + sum(len(n) + len(v) + 4 for n, v in self.headers) + 32
            if size > self.max_header_bytes:
                raise _HeadTooLarge
        self._head_bytes = None
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._begun = False
        self._head_bytes = 0
        self.waiting_since = None
        self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and not self._begun:
            self.waiting_since = self.loop.time()  # idle on keep-alive: first to make room

    # -- the deadline ------------------------------------------------------------------------

    def _arm(self) -> None:
        self._deadline = self.loop.time() + self.client_timeout
        self._timer = self.loop.call_at(self._deadline, self._expired)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._grace = False

    def _expired(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        reading_body = self._head_bytes is None and cycle is not None
        if reading_body and not cycle.response_complete and not self._grace:
            # The route reading the body has the same deadline: let it answer first.
            self._grace = True
            self._timer = self.loop.call_later(_GRACE_S, self._expired)
            return
        self.drop(_TOO_SLOW)


def connection_cap(configured: int, rpc_connections: Sequence[int]) -> int:
    """``configured``, lowered so that clients can never take the descriptors the node needs
    (its RPC pools and a reserve) under the process's descriptor limit."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return configured
    room = soft - _RESERVED_FDS - sum(rpc_connections)
    cap = max(1, min(configured, room))
    if cap < configured:
        log.warning(
            "max_connections lowered from %d to %d to fit the descriptor limit (ulimit -n %d)",
            configured,
            cap,
            soft,
        )
    return cap


def protocol_class(max_header_bytes: int, client_timeout: float, max_connections: int) -> type:
    """A GuardedProtocol with these bounds, for ``uvicorn.run(http=...)``."""
    return type(
        "GuardedProtocol",
        (GuardedProtocol,),
        {
            "max_header_bytes": max_header_bytes,
            "client_timeout": client_timeout,
            "max_connections": max_connections,
        },
    )
