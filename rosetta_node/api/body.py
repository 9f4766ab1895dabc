"""Reading request bodies with a size bound."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.types import Receive, Scope

from ..errors import INVALID_REQUEST, CatalogError

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
