"""Sequence Indexer Gateway routes (``POST /rpc/IndexerGateway/<Method>``): a thin translator.

Each method decodes the upstream request, calls :class:`TokenService` (the same engine and
index the Rosetta routes use) and reshapes its answers into the upstream wire objects. No
chain logic lives here. The OpenAPI document is ``specs/sequence.yaml``; the decisions on
points upstream leaves open are written there. This module is the HTTP edge (the only one of
the gateway's modules that knows Starlette); the methods live in:

- :mod:`.sequence_wire` (requests, webrpc errors), :mod:`.sequence_answers` (answers),
  :mod:`.sequence_checks` (request checks, paging), :mod:`.sequence_fanout` (chain choice),
- :mod:`.sequence_balances`, :mod:`.sequence_by_contract`, :mod:`.sequence_status`,
  :mod:`.sequence_history` (``GetTransactionHistory``, over the history index).

- Fan-out methods answer one wrapper per selected chain; a chain that cannot answer (node
  down, index behind, ...) gives its ``errorReason`` and the call still succeeds.
  ``GetBalanceUpdates`` reads exactly one chain and answers node trouble with an error.
- Every wrapper carries ``blockNumber``/``blockHash`` (an addition to upstream): the block all
  balances of that chain were read at. Rows carry the block of their last change.
- Paging: ``page.after`` is an opaque cursor string; the answer's ``page`` is what to send
  back for the next page while ``more`` is true. Default page size 200, at most 1000.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec
from starlette.datastructures import URLPath
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, NoMatchFound, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ..engine import Engine
from ..errors import CLIENT_TOO_SLOW, CatalogError
from ..index.history_service import HistoryService
from ..index.service import TokenService
from . import sequence_balances, sequence_by_contract, sequence_history, sequence_status
from .access import Access
from .body import NOT_JSON, read_body
from .guard import Failure, guard
from .sequence_answers import WireAnswer
from .sequence_wire import (
    AccountTokensRequest,
    BalanceUpdatesRequest,
    ByContractRequest,
    GetChainsRequest,
    NativeBalanceRequest,
    NoArguments,
    TokenBalancesRequest,
    TransactionHistoryRequest,
    WebrpcError,
    bad_method,
    bad_request,
    bad_route,
    reason,
    refused_error,
    timeout,
    webrpc_error,
)

PREFIX = "/rpc/IndexerGateway/"
_encode = msgspec.json.Encoder().encode


def error_response(error: WebrpcError) -> Response:
    return Response(
        _encode(error.body()),
        status_code=error.status,
        headers=error.headers,
        media_type="application/json",
    )


class AnyMethod:
    """An endpoint as a plain ASGI app, so that its Route takes every HTTP method (a wrong
    one then gets the webrpc 405 from the endpoint, not Starlette's plain-text one)."""

    def __init__(self, endpoint: Callable[[Request], Awaitable[Response]]) -> None:
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.endpoint(Request(scope, receive))
        await response(scope, receive, send)


class RpcPrefix(BaseRoute):
    """Every other path under ``/rpc/`` (any bytes, any method): the webrpc 404."""

    path = "/rpc/"

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and scope["path"].startswith(self.path):
            return Match.FULL, {}
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


@dataclass(frozen=True, slots=True)
class Method:
    decoder: msgspec.json.Decoder[Any]
    handler: Callable[[Any], Awaitable[WireAnswer]]
    empty: Any  # the request when the body is empty or null

    @classmethod
    def of(cls, request_type: type[msgspec.Struct], handler: Callable[[Any], Any]) -> Method:
        decoder = msgspec.json.Decoder(request_type | None)  # type: ignore[operator]
        return cls(decoder, handler, request_type())

    def decode(self, body: bytes) -> Any:
        if not body.strip():
            return self.empty
        try:
            parsed = self.decoder.decode(body)
        except msgspec.ValidationError as exc:
            raise bad_request(str(exc)[:300]) from None
        except NOT_JSON as exc:
            raise bad_request(f"body is not JSON: {str(exc)[:200]}") from None
        return self.empty if parsed is None else parsed


def method_table(
    tokens: TokenService, history: HistoryService, started: float
) -> dict[str, Method]:
    """The upstream method names, their request types and the functions that answer them."""
    bound = functools.partial
    token_balances = Method.of(
        TokenBalancesRequest, bound(sequence_balances.token_balances, tokens)
    )
    return {
        "GetTokenBalances": Method.of(
            AccountTokensRequest, bound(sequence_balances.account_tokens, tokens)
        ),
        "GetTokenBalancesSummary": token_balances,
        # ERC-20 balances have no per-token-id detail: the same rows as the summary.
        "GetTokenBalancesDetails": token_balances,
        "GetTokenBalancesByContract": Method.of(
            ByContractRequest, bound(sequence_by_contract.by_contract, tokens)
        ),
        "GetBalanceUpdates": Method.of(
            BalanceUpdatesRequest, bound(sequence_balances.balance_updates, tokens)
        ),
        "GetNativeTokenBalance": Method.of(
            NativeBalanceRequest, bound(sequence_balances.native, tokens)
        ),
        "GetTransactionHistory": Method.of(
            TransactionHistoryRequest,
            bound(sequence_history.transaction_history, history, tokens),
        ),
        "GetChains": Method.of(GetChainsRequest, bound(sequence_status.chains, tokens)),
        "Ping": Method.of(NoArguments, sequence_status.ping),
        "Version": Method.of(NoArguments, sequence_status.version),
        "RuntimeStatus": Method.of(
            NoArguments, bound(sequence_status.runtime_status, tokens, started)
        ),
    }


class Gateway:
    def __init__(
        self, engine: Engine, tokens: TokenService, history: HistoryService, access: Access
    ) -> None:
        self.engine = engine
        self.tokens = tokens
        self.access = access
        self.started = time.time()
        self.methods = method_table(tokens, history, self.started)

    def routes(self) -> list[BaseRoute]:
        routes: list[BaseRoute] = [
            Route(PREFIX + name, AnyMethod(self.endpoint), name=f"sequence.{name}")
            for name in self.methods
        ]
        routes.append(RpcPrefix(AnyMethod(self.unknown)))
        return routes

    async def unknown(self, request: Request) -> Response:
        path = request.scope["path"][:120]
        return error_response(bad_route(f"no such method: {path}"))

    async def endpoint(self, request: Request) -> Response:
        # One time limit for the checks, the body read and the method: a slow upload is
        # bounded too (and worded as the client's slowness, not the node's).
        limit: float = request.app.state.request_timeout
        path = request.scope["path"]
        try:
            outcome = await guard(self.call(request), path, limit, keep=(WebrpcError,))
        except WebrpcError as exc:
            return error_response(exc)
        if isinstance(outcome, Failure):
            return error_response(webrpc_error(outcome))
        return Response(_encode(outcome), media_type="application/json")

    async def call(self, request: Request) -> WireAnswer:
        """The method's answer; every refusal and failure is raised, for :meth:`endpoint`."""
        name = request.scope["path"].removeprefix(PREFIX)
        method = self.methods.get(name)
        if method is None:  # e.g. a trailing newline that the route's regex let through
            raise bad_route(f"no such method: {name[:80]!r}")
        if request.method != "POST":
            raise bad_method(f"{name} takes POST, not {request.method[:10]}")
        self.admit(request)
        try:
            body = await read_body(request)
        except CatalogError as exc:
            if exc.error is CLIENT_TOO_SLOW:
                raise timeout(reason(exc)) from None
            raise bad_request(reason(exc)) from None
        return await method.handler(method.decode(body))

    def admit(self, request: Request) -> None:
        """X-Access-Key when keys are configured, then the rate limit (per key, else address)."""
        client = request.client.host if request.client else None
        refused = self.access.admit(request.headers.get("x-access-key"), client)
        if refused is not None:
            raise refused_error(refused)


def sequence_routes(
    engine: Engine, tokens: TokenService, history: HistoryService, access: Access
) -> list[BaseRoute]:
    return Gateway(engine, tokens, history, access).routes()
