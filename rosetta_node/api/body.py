"""Reading request bodies with a size bound."""

from __future__ import annotations

import msgspec
from starlette.requests import Request

from ..errors import INVALID_REQUEST, CatalogError

MAX_BODY_BYTES = 1_000_000

# What msgspec raises for a body that is not JSON: DecodeError, and also UnicodeDecodeError for
# bad UTF-8 and RecursionError for very deep nesting.
NOT_JSON = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)


async def read_body(request: Request, limit: int | None = None) -> bytes:
    limit = limit or request.app.state.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise CatalogError(INVALID_REQUEST, {"reason": f"body larger than {limit} bytes"})
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise CatalogError(INVALID_REQUEST, {"reason": f"body larger than {limit} bytes"})
        chunks.append(chunk)
    return b"".join(chunks)
