"""The Rosetta dialect of the error edge: every ``Failure`` is a Rosetta Error with HTTP 500."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from starlette.types import Scope

from ..errors import API_KEY_REQUIRED, RATE_LIMITED, ErrorDef
from ..types import ErrorBody
from .access import Access, Refusal
from .guard import Failure, guard

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
    """(HTTP status, body, catalog code or None) of one Rosetta request, bounded as a whole
    by ``limit`` seconds. Rosetta has one status for errors: the catalog entry says it all."""
    outcome = await guard(work(), path, limit)
    if isinstance(outcome, Failure):
        return 500, error_body(outcome.error, outcome.details), outcome.error.code
    return 200, outcome, None


def rosetta_refusal(access: Access, scope: Scope) -> tuple[int, bytes, int] | None:
    """The Rosetta Error refusing a request (X-Api-Key missing or wrong, rate limit spent),
    or None when it may go ahead."""
    presented = None
    for name, value in scope["headers"]:
        if name == b"x-api-key":
            presented = value.decode("latin-1")
            break
    client = scope.get("client")
    refused = access.admit(presented, client[0] if client else None)
    if refused is None:
        return None
    if refused.why is Refusal.RATE_LIMITED:
        details = {"retry_after": refused.retry_after, "reason": "rate limit spent"}
        return 500, error_body(RATE_LIMITED, details), RATE_LIMITED.code
    reason = "the X-Api-Key header is " + ("not a key of this node" if presented else "missing")
    return 500, error_body(API_KEY_REQUIRED, {"reason": reason}), API_KEY_REQUIRED.code
