"""Rosetta Data API routes: decode the body, call one engine service, encode the answer.

Each route is a ``RosettaRoute``: the app answers POSTs to it straight from the ASGI scope
(``App.__call__``, the hot path: no Request or Response objects, no routing walk); its
Starlette ``Route`` serves the same answer to the router and gives other methods their 405.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope

from ..engine import Engine
from ..errors import INVALID_REQUEST, MALFORMED_JSON, CatalogError
from ..index.history_service import HistoryService
from ..types import (
    AccountBalanceRequest,
    AccountCoinsRequest,
    BlockRequest,
    BlockTransactionRequest,
    CallRequest,
    EventsBlocksRequest,
    MempoolTransactionRequest,
    MetadataRequest,
    NetworkRequest,
    SearchTransactionsRequest,
)
from .body import NOT_JSON, read_limited
from .errors import rosetta_answer

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


class RosettaRoute(Generic[T]):
    def __init__(
        self, path: str, request_type: type[T], handler: Callable[[T], Awaitable[Any] | Any]
    ) -> None:
        self.path = path
        self.handler = handler
        self.decoder = msgspec.json.Decoder(request_type)

    async def answer(
        self, scope: Scope, receive: Receive, max_body: int, timeout: float
    ) -> tuple[int, bytes, int | None]:
        """(HTTP status, JSON body, catalog code of an error) for one POST."""

        async def work() -> bytes:
            parsed = decode(self.decoder, await read_limited(scope, receive, max_body))
            result = self.handler(parsed)
            if isinstance(result, Awaitable):
                result = await result
            return _encode(result)

        return await rosetta_answer(work, timeout, self.path)

    def starlette_route(self) -> Route:
        async def endpoint(request: Request) -> Response:
            state = request.app.state
            status, body, _ = await self.answer(
                request.scope, request.receive, state.max_body_bytes, state.request_timeout
            )
            return Response(body, status_code=status, media_type="application/json")

        return Route(self.path, endpoint, methods=["POST"], name=self.path)


def rosetta_routes(engine: Engine, history: HistoryService) -> list[RosettaRoute[Any]]:
    return [
        RosettaRoute("/network/list", MetadataRequest, lambda _: engine.network.list()),
        RosettaRoute("/network/status", NetworkRequest, engine.network.status),
        RosettaRoute("/network/options", NetworkRequest, engine.network.options),
        RosettaRoute("/account/balance", AccountBalanceRequest, engine.account.balance),
        RosettaRoute("/account/coins", AccountCoinsRequest, engine.account.coins),
        RosettaRoute("/block", BlockRequest, engine.block.block),
        RosettaRoute("/block/transaction", BlockTransactionRequest, engine.block.transaction),
        RosettaRoute("/mempool", NetworkRequest, engine.mempool.mempool),
        RosettaRoute("/mempool/transaction", MempoolTransactionRequest, engine.mempool.transaction),
        RosettaRoute("/call", CallRequest, engine.call.call),
        # The indexer routes, over the history index (errors 33/34 where it is off or behind).
        RosettaRoute("/events/blocks", EventsBlocksRequest, history.events_blocks),
        RosettaRoute(
            "/search/transactions", SearchTransactionsRequest, history.search_transactions
        ),
    ]
