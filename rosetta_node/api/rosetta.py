"""Rosetta Data API routes: decode the body, call one engine service, encode the answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..engine import Engine
from ..errors import INVALID_REQUEST, MALFORMED_JSON, CatalogError
from ..types import (
    AccountBalanceRequest,
    AccountCoinsRequest,
    BlockRequest,
    BlockTransactionRequest,
    CallRequest,
    MempoolTransactionRequest,
    MetadataRequest,
    NetworkRequest,
)
from .body import NOT_JSON, read_body
from .errors import handle_errors

T = TypeVar("T")
_encode = msgspec.json.Encoder().encode


def decode(decoder: msgspec.json.Decoder[T], body: bytes) -> T:
    if not body.strip():
        raise CatalogError(MALFORMED_JSON, {"reason": "empty body"})
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as exc:
        # The typed decoder stops at the first wrong type, even in a body that is not JSON
        # at all; tell the two apart on this (rare) path only.
        try:
            msgspec.json.decode(body)
        except NOT_JSON as syntax:
            raise CatalogError(MALFORMED_JSON, {"reason": str(syntax)[:300]}) from None
        raise CatalogError(INVALID_REQUEST, {"reason": str(exc)[:500]}) from None
    except NOT_JSON as exc:
        raise CatalogError(MALFORMED_JSON, {"reason": str(exc)[:300]}) from None


def route(path: str, request_type: type[T], handler: Callable[[T], Awaitable[Any] | Any]) -> Route:
    decoder = msgspec.json.Decoder(request_type)

    @handle_errors
    async def endpoint(request: Request) -> Response:
        parsed = decode(decoder, await read_body(request))
        result = handler(parsed)
        if isinstance(result, Awaitable):
            result = await result
        return Response(_encode(result), media_type="application/json")

    return Route(path, endpoint, methods=["POST"], name=path)


def rosetta_routes(engine: Engine) -> list[Route]:
    return [
        route("/network/list", MetadataRequest, lambda _: engine.network.list()),
        route("/network/status", NetworkRequest, engine.network.status),
        route("/network/options", NetworkRequest, engine.network.options),
        route("/account/balance", AccountBalanceRequest, engine.account.balance),
        route("/account/coins", AccountCoinsRequest, engine.account.coins),
        route("/block", BlockRequest, engine.block.block),
        route("/block/transaction", BlockTransactionRequest, engine.block.transaction),
        route("/mempool", NetworkRequest, engine.mempool.mempool),
        route("/mempool/transaction", MempoolTransactionRequest, engine.mempool.transaction),
        route("/call", CallRequest, engine.call.call),
    ]
