"""Sequence Indexer Gateway wire shapes: webrpc errors (the gateway's dialect of the error
edge, :mod:`.guard`) and request structs.

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

from ..errors import CLIENT_TOO_SLOW, MALFORMED_JSON, NODE_TIMEOUT, CatalogError, ErrorDef, Kind
from .access import Refusal, Refused
from .guard import Failure, Origin


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
    return _reason(exc.error, exc.details)


def _reason(error: ErrorDef, details: dict[str, Any] | None) -> str:
    details = details or {}
    text = error.message
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


# -- the webrpc dialect of the error edge (guard.py) ---------------------------------------


def cause(failure: Failure) -> str:
    """What a failure says: a chain's ``errorReason``, or the ``cause`` of a webrpc error."""
    details = failure.details or {}
    if failure.origin is Origin.TIMEOUT:
        return str(details["reason"])
    if failure.origin is Origin.NODE:
        return f"node error: {str(details['node_message'])[:200]}"
    if failure.origin is Origin.UNEXPECTED:
        return "unexpected error; it has been logged"
    return _reason(failure.error, failure.details)


def webrpc_error(failure: Failure) -> WebrpcError:
    """A failure as the webrpc error of a call that failed as a whole, by its entry's kind."""
    error, text = failure.error, cause(failure)
    if error is NODE_TIMEOUT or error is CLIENT_TOO_SLOW:  # a time limit: ours or the node's
        return timeout(text)
    if error.kind is Kind.CLIENT:
        return bad_request(text) if error is MALFORMED_JSON else invalid_argument(text)
    if error.kind is Kind.INDEX and not error.retriable:  # configuration: no retry helps
        return unavailable(text)
    return internal_error(text)


def refused_error(refused: Refused) -> WebrpcError:
    """401 without a key or with a wrong one, 429 with Retry-After."""
    if refused.why is Refusal.NO_KEY:
        return unauthorized("the X-Access-Key header is required")
    if refused.why is Refusal.WRONG_KEY:
        return access_key_not_found("the X-Access-Key is not a key of this node")
    return rate_limited(refused.retry_after)


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


class AccountTokensRequest(ChainSelection):
    """``GetTokenBalances`` (deprecated upstream, still what the official client's
    ``getTokenBalances`` calls): one account, optionally one contract."""

    accountAddress: str | None = None
    contractAddress: str | None = None
    tokenID: str | None = None
    includeMetadata: bool | None = None
    metadataOptions: Any = None
    includeCollectionTokens: bool | None = None
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


class TransactionHistoryFilter(msgspec.Struct):
    accountAddress: str | None = None
    contractAddress: str | None = None
    accountAddresses: list[str] | None = None
    contractAddresses: list[str] | None = None
    transactionHashes: list[str] | None = None
    metaTransactionIDs: list[str] | None = None
    fromBlock: int | None = None
    toBlock: int | None = None
    tokenID: str | None = None
    omitPrices: bool | None = None


class TransactionHistoryRequest(ChainSelection):
    filter: TransactionHistoryFilter | None = None
    includeMetadata: bool | None = None
    metadataOptions: Any = None
    page: Page | None = None


class GetChainsRequest(msgspec.Struct):
    networkType: Any = None


class NoArguments(msgspec.Struct):
    pass
