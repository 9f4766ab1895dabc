"""The Chainbase dialect of the error edge: ``{code, message, retriable}`` with the HTTP
status as ``code`` (see ``specs/chainbase.yaml``), and ``Retry-After`` when asking again
helps."""

from __future__ import annotations

import msgspec
from starlette.responses import Response

from ..errors import (
    BLOCK_NOT_FOUND,
    HISTORY_NOT_CONFIGURED,
    INVALID_REQUEST,
    NOT_A_TOKEN,
    UNKNOWN_NETWORK,
    Kind,
)
from .access import Refusal, Refused
from .guard import Failure, Origin

_encode = msgspec.json.Encoder().encode

RETRY_AFTER_S = 1  # Retry-After on retriable node trouble (503)
# Catalog details safe and useful to name in a message (never URLs, keys or node bodies).
_DETAIL_KEYS = ("reason", "block", "index", "head", "indexed")


class ApiError(Exception):
    """A failure in the vendor's shape: HTTP status, message, retriable flag, headers."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        retriable: bool = False,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retriable = retriable
        self.headers = headers or {}


def error_response(exc: ApiError) -> Response:
    body = {"code": exc.status, "message": exc.message, "retriable": exc.retriable}
    return Response(
        _encode(body), status_code=exc.status, media_type="application/json", headers=exc.headers
    )


def _retry_later(message: str) -> ApiError:
    return ApiError(503, message, retriable=True, headers={"Retry-After": str(RETRY_AFTER_S)})


def _message(failure: Failure) -> str:
    """The entry's message and the details that say why (a schema error's reason alone)."""
    details = failure.details or {}
    if failure.error is INVALID_REQUEST and details.get("reason"):
        return str(details["reason"])[:300]
    shown = [f"{k}={str(details[k])[:200]}" for k in _DETAIL_KEYS if details.get(k) is not None]
    return failure.error.message + (f" ({', '.join(shown)})" if shown else "")


def from_failure(failure: Failure, chain_id: int | None, limit: float) -> ApiError:
    """The HTTP face of a failed route, by the kind of its catalog entry."""
    error = failure.error
    if failure.origin is Origin.TIMEOUT:
        return _retry_later(f"Request took longer than {limit:g} s")
    if error.kind is Kind.INTERNAL:
        return ApiError(500, error.message, retriable=True)
    if error.retriable:  # node trouble, or the index still catching up: ask again shortly
        return _retry_later(_message(failure))
    if error.kind is Kind.NODE:  # the node lacks the data for good (pruned state)
        return ApiError(500, _message(failure))
    if error is HISTORY_NOT_CONFIGURED:
        return ApiError(
            400,
            f"chain_id: {chain_id} is served by this node, but its history index is not"
            " configured (history = true), so this route cannot answer for it",
        )
    if error.kind is Kind.INDEX:  # no index for this chain: configuration, not trouble
        return ApiError(
            400,
            f"chain_id: {chain_id} is served by this node, but its token index is not"
            " configured (index_db or index_url), so this route cannot answer for it",
        )
    if error is UNKNOWN_NETWORK:
        configured = (failure.details or {}).get("configured", [])
        served = [str(n.get("chainId")) for n in configured] or ["none"]
        return ApiError(
            400,
            f"chain_id: {chain_id} is not a chain this node serves (served: {', '.join(served)})",
        )
    if error is NOT_A_TOKEN:  # the vendor's 404: no ERC-20 token at that address
        details = failure.details or {}
        return ApiError(
            404,
            f"contract_address: {str(details.get('contractAddress')).lower()} is not an ERC-20"
            f" token at block {details.get('block')} ({details.get('reason')})",
        )
    return ApiError(404 if error is BLOCK_NOT_FOUND else 400, _message(failure))


def refused_error(refused: Refused, per_minute: int) -> ApiError:
    """401 for a missing or wrong ``x-api-key`` (never echoed), 429 with Retry-After."""
    if refused.why is Refusal.RATE_LIMITED:
        return ApiError(
            429,
            f"rate limit of {per_minute} requests per minute exceeded;"
            f" retry after {refused.retry_after} s",
            retriable=True,
            headers={"Retry-After": str(refused.retry_after)},
        )
    return ApiError(401, "x-api-key header is missing or not a valid API key")
