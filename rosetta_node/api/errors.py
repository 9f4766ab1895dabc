"""Exceptions to Rosetta Error responses: the one place where failures become HTTP."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from ..errors import INTERNAL_ERROR, NODE_ERROR, NODE_TIMEOUT, CatalogError, ErrorDef
from ..rpc import RpcError
from ..types import ErrorBody

log = logging.getLogger(__name__)
_encode = msgspec.json.Encoder().encode


def error_response(error: ErrorDef, details: dict[str, Any] | None, status: int = 500) -> Response:
    body = ErrorBody(
        code=error.code,
        message=error.message,
        retriable=error.retriable,
        description=error.description,
        details=details,
    )
    return Response(_encode(body), status_code=status, media_type="application/json")


def handle_errors(
    endpoint: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a Rosetta endpoint so that every failure becomes a Rosetta Error (HTTP 500)."""

    @functools.wraps(endpoint)
    async def wrapped(request: Request) -> Response:
        limit: float = request.app.state.request_timeout
        try:
            async with asyncio.timeout(limit):  # no task of its own: cheap on the hot path
                return await endpoint(request)
        except TimeoutError:
            return error_response(
                NODE_TIMEOUT, {"reason": f"the request took longer than {limit:g} s"}
            )
        except CatalogError as exc:
            return error_response(exc.error, exc.details)
        except RpcError as exc:
            # A node error that no service mapped to something more specific.
            return error_response(
                NODE_ERROR,
                {"method": exc.method, "node_code": exc.code, "node_message": exc.message[:300]},
            )
        except Exception:
            log.exception("unhandled error on %s", request.url.path)
            return error_response(INTERNAL_ERROR, {"path": request.url.path})

    return wrapped
