"""Exceptions to Rosetta Error bodies: the one place where Rosetta failures become HTTP."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from ..errors import INTERNAL_ERROR, NODE_ERROR, NODE_TIMEOUT, CatalogError, ErrorDef
from ..rpc import RpcError
from ..types import ErrorBody

log = logging.getLogger(__name__)
_encode = msgspec.json.Encoder().encode


def error_body(error: ErrorDef, details: dict[str, Any] | None) -> bytes:
    return _encode(
        ErrorBody(
            code=error.code,
            message=error.message,
            retriable=error.retriable,
            description=error.description,
            details=details,
        )
    )


async def rosetta_answer(
    work: Callable[[], Awaitable[bytes]], limit: float, path: str
) -> tuple[int, bytes, int | None]:
    """(HTTP status, body, catalog code or None) of one Rosetta request: every failure is a
    Rosetta Error with HTTP 500, and the request as a whole is bounded by ``limit`` seconds."""
    error: ErrorDef
    details: dict[str, Any] | None
    try:
        async with asyncio.timeout(limit):  # no task of its own: cheap on the hot path
            return 200, await work(), None
    except TimeoutError:
        error, details = NODE_TIMEOUT, {"reason": f"the request took longer than {limit:g} s"}
    except CatalogError as exc:
        error, details = exc.error, exc.details
    except RpcError as exc:
        # A node error that no service mapped to something more specific.
        error = NODE_ERROR
        details = {"method": exc.method, "node_code": exc.code, "node_message": exc.message[:300]}
    except Exception:
        log.exception("unhandled error on %s", path)
        error, details = INTERNAL_ERROR, {"path": path}
    return 500, error_body(error, details), error.code
