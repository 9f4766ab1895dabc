"""The Rosetta dialect of the error edge: every ``Failure`` is a Rosetta Error with HTTP 500."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from ..errors import ErrorDef
from ..types import ErrorBody
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
