"""Reading request bodies with a size bound and the connection's deadline (protocol.py)."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import msgspec
from starlette.requests import Request
from starlette.types import Receive, Scope

from ..errors import CLIENT_TOO_SLOW, INVALID_REQUEST, CatalogError
from .protocol import READ_DEADLINE

# True while a request's body is being read: the guard's time limit running out then is
# the client's slowness, not the node's (guard.py). Each request has its own task.
reading_body: contextvars.ContextVar[bool] = contextvars.ContextVar("reading_body", default=False)

MAX_BODY_BYTES = 1_000_000

# What msgspec raises for a body that is not JSON: DecodeError, and also UnicodeDecodeError for
# bad UTF-8 and RecursionError for very deep nesting.
NOT_JSON = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)


def _too_large(limit: int) -> CatalogError:
    return CatalogError(INVALID_REQUEST, {"reason": f"body larger than {limit} bytes"})


async def read_limited(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole body of an ASGI request; refused as soon as it is known to pass ``limit``."""
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit() and int(value) > limit:
            raise _too_large(limit)
    async with _within_deadline(scope):
        return await _read(receive, limit)


def too_slow(reason: str) -> CatalogError:
    return CatalogError(CLIENT_TOO_SLOW, {"reason": reason})


@asynccontextmanager
async def _within_deadline(scope: Scope) -> AsyncIterator[None]:
    deadline = scope.get("extensions", {}).get(READ_DEADLINE)
    token = reading_body.set(True)
    if deadline is None:  # not served by our protocol (an in-process ASGI client)
        yield
    else:
        try:
            async with asyncio.timeout_at(deadline):
                yield
        except TimeoutError:
            raise too_slow("the request body did not arrive within the client timeout") from None
    # Reset only once the body came: the guard's limit cutting the read leaves it set.
    reading_body.reset(token)


async def _read(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away: nothing to answer
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def read_body(request: Request, limit: int | None = None) -> bytes:
    return await read_limited(
        request.scope, request.receive, limit or request.app.state.max_body_bytes
    )
