"""Sequence Indexer Gateway wire shapes: webrpc errors and request structs.

Field names and casing are the upstream ones (``services/indexer/indexer.gen.go`` of
go-sequence, the ``IndexerGateway`` service). Every request field is optional and accepts
``null``: the official Go client sends ``null`` for nil slices and pointers, ``""`` for an unset
``contractStatus`` and the body ``null`` for methods without arguments. Unknown fields are
ignored (``networkType``, ``omitPrices``, ``metadataOptions``: accepted, no effect here).
The answers are in :mod:`.sequence_answers`.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ..errors import (
    BLOCK_MISMATCH,
    BLOCK_NOT_FOUND,
    INDEX_NOT_CONFIGURED,
    INVALID_ADDRESS,
    INVALID_BLOCK_IDENTIFIER,
    INVALID_REQUEST,
    MALFORMED_JSON,
    NODE_TIMEOUT,
    UNKNOWN_NETWORK,
    CatalogError,
)

# Catalog errors that are the client's to fix: InvalidArgument. Node trouble is not.
_CLIENT_ERRORS = {
    INVALID_REQUEST.code,
    INVALID_ADDRESS.code,
    BLOCK_MISMATCH.code,
    UNKNOWN_NETWORK.code,
    INVALID_BLOCK_IDENTIFIER.code,
    BLOCK_NOT_FOUND.code,
}


class ErrorBody(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The webrpc error object; ``cause`` is left out when there is none."""

    error: str
    code: int
    msg: str
    cause: str | None = None
    status: int


class WebrpcError(Exception):
    """A webrpc error answer: ``{error, code, msg, cause?, status}`` with HTTP ``status``."""

    def __init__(
        self,
        name: str,
        code: int,
        msg: str,
        status: int,
        cause: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{name} {code}: {msg}" + (f": {cause}" if cause else ""))
        self.name = name
        self.code = code
        self.msg = msg
        self.status = status
        self.cause = cause
        self.headers = headers or {}

    def body(self) -> ErrorBody:
        return ErrorBody(
            error=self.name,
            code=self.code,
            msg=self.msg,
            cause=self.cause or None,
            status=self.status,
        )


def bad_route(cause: str) -> WebrpcError:
    return WebrpcError("WebrpcBadRoute", -2, "bad route", 404, cause)


def bad_method(cause: str) -> WebrpcError:
    return WebrpcError("WebrpcBadMethod", -3, "bad method", 405, cause)


def bad_request(cause: str) -> WebrpcError:
    return WebrpcError("WebrpcBadRequest", -4, "bad request", 400, cause)


def internal_error(cause: str) -> WebrpcError:
    return WebrpcError("WebrpcInternalError", -7, "internal error", 500, cause)


def unauthorized(cause: str) -> WebrpcError:
    return WebrpcError("Unauthorized", 1000, "Unauthorized access", 401, cause)


def access_key_not_found(cause: str) -> WebrpcError:
    return WebrpcError("AccessKeyNotFound", 1101, "Access key not found", 401, cause)


def rate_limited(retry_after: int) -> WebrpcError:
    return WebrpcError(
        "RateLimited",
        1007,
        "Rate-limited. Please slow down.",
        429,
        f"too many requests; retry after {retry_after} s",
        {"Retry-After": str(retry_after)},
    )


def timeout(cause: str) -> WebrpcError:
    return WebrpcError("Timeout", 1900, "Request timed out", 408, cause)


def unavailable(cause: str) -> WebrpcError:
    return WebrpcError("Unavailable", 2002, "Unavailable resource", 400, cause)


def invalid_argument(cause: str) -> WebrpcError:
    return WebrpcError("InvalidArgument", 2001, "Invalid argument", 400, cause)


def reason(exc: CatalogError) -> str:
    """A short, key-free text for a catalog error: its message and the detail that says why."""
    details = exc.details or {}
    text = exc.error.message
    why = details.get("reason")
    if why:
        text += f": {why}"
    extra = [
        f"{k}={v}"
        for k, v in details.items()
        if k not in ("reason", "configured") and isinstance(v, str | int) and len(str(v)) <= 80
    ]
    if extra:
        text += f" ({', '.join(extra)})"
    return text[:400]


def webrpc_of(exc: CatalogError) -> WebrpcError:
    """A catalog error as the webrpc error of a call that failed as a whole."""
    if exc.error.code == MALFORMED_JSON.code:
        return bad_request(reason(exc))
    if exc.error.code in _CLIENT_ERRORS:
        return invalid_argument(reason(exc))
    if exc.error.code == NODE_TIMEOUT.code:
        return timeout(reason(exc))
    if exc.error.code == INDEX_NOT_CONFIGURED.code:  # configuration, not trouble: no retry helps
        return unavailable(reason(exc))
    return internal_error(reason(exc))


# -- requests -----------------------------------------------------------------------------


class Page(msgspec.Struct):
    """Upstream ``Page``: we read ``page``, ``pageSize`` and ``after`` (our cursor string)."""

    page: int | None = None
    pageSize: int | None = None
    after: Any = None
    more: Any = None
    column: Any = None
    before: Any = None
    sort: Any = None


class TokenBalancesFilter(msgspec.Struct):
    accountAddresses: list[str] | None = None
    contractStatus: str | None = None
    contractTypes: list[str] | None = None
    contractWhitelist: list[str] | None = None
    contractBlacklist: list[str] | None = None
    omitNativeBalances: bool | None = None
    omitPrices: bool | None = None


class TokenBalancesByContractFilter(msgspec.Struct):
    contractAddresses: list[str] | None = None
    accountAddresses: list[str] | None = None
    contractStatus: str | None = None


class ChainSelection(msgspec.Struct):
    chainIds: list[int] | None = None
    networks: list[str] | None = None
    networkType: Any = None


class TokenBalancesRequest(ChainSelection):
    filter: TokenBalancesFilter | None = None
    omitMetadata: bool | None = None
    page: Page | None = None


class ByContractRequest(ChainSelection):
    filter: TokenBalancesByContractFilter | None = None
    omitMetadata: bool | None = None
    page: Page | None = None


class BalanceUpdatesRequest(ChainSelection):
    contractAddress: str | None = None
    lastBlockNumber: int | None = None
    lastBlockHash: str | None = None
    page: Page | None = None


class NativeBalanceRequest(ChainSelection):
    accountAddress: str | None = None
    omitPrices: bool | None = None


class GetChainsRequest(msgspec.Struct):
    networkType: Any = None


class NoArguments(msgspec.Struct):
    pass
