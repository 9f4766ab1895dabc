"""The ASGI application: Rosetta, translator and operator routes over one Engine.

``App`` is the edge every request passes: it gives the request its id, counts it, times it
and writes its access line. It answers Rosetta POSTs itself, straight from the ASGI scope
(the hot path: no middleware stack, Request/Response objects or route walk); everything else
goes through Starlette.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.types import Message, Receive, Scope, Send

from ..engine import Engine
from ..errors import CATALOG, ErrorDef, Kind
from ..index.history_service import HistoryService
from ..index.service import TokenService
from ..logs import request_id
from ..metrics import LATENCY, REQUESTS, child
from .access import Access
from .chainbase import chainbase_routes
from .docs import docs_routes
from .errors import rosetta_refusal
from .ops import ops_routes
from .rosetta import RosettaRoute, rosetta_routes
from .sequence import sequence_routes

log = logging.getLogger("rosetta_node.access")

_QUIET = frozenset({"/metrics", "/healthz", "/readyz", "/openapi.json"})  # no access line
_JSON = (b"content-type", b"application/json")


def _counted_as(error: ErrorDef) -> str:
    """The metrics outcome of a Rosetta error: node trouble is the node's and the index's
    catching up; a missing index is the client's to avoid."""
    if error.kind is Kind.NODE or (error.kind is Kind.INDEX and error.retriable):
        return "node_error"
    return "internal_error" if error.kind is Kind.INTERNAL else "client_error"


_OUTCOMES = {e.code: _counted_as(e) for e in CATALOG}


def outcome(path: str, status: int, code: Any) -> str:
    if status < 400:
        return "ok"
    if status in (404, 405):  # a path or method nobody serves: the client's, whatever route
        return "client_error"
    if path.startswith(("/rpc/", "/v1/")):  # translators: the HTTP status says it
        if status in (408, 502, 503, 504):
            return "node_error"
        return "internal_error" if status >= 500 else "client_error"
    # Rosetta answers every error with HTTP 500: the catalog entry's kind says what it was.
    if not isinstance(code, int):
        return "internal_error"
    return _OUTCOMES.get(code, "client_error")


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            incoming = value.decode("latin-1")[:64]
            if incoming and incoming.isprintable():
                return incoming
            break
    return os.urandom(8).hex()


def _code_in(body: bytes) -> int | None:
    """The ``code`` of an error body, without decoding it."""
    marker = body.find(b'"code":')
    if marker < 0:
        return None
    digits = body[marker + 7 : marker + 14].split(b",")[0].strip()
    return int(digits) if digits.lstrip(b"-").isdigit() else None


class App(Starlette):
    def __init__(
        self, engine: Engine, tokens: TokenService, history: HistoryService, **kwargs: Any
    ) -> None:
        self.rosetta: dict[str, RosettaRoute[Any]] = {
            r.path: r for r in rosetta_routes(engine, history)
        }
        server = engine.settings.server
        access = Access.from_settings(server)  # one budget across every API
        self.access = access.for_api("rosetta", server)
        routes = [
            *(r.starlette_route() for r in self.rosetta.values()),
            *sequence_routes(engine, tokens, history, access.for_api("sequence", server)),
            *chainbase_routes(engine, tokens, history, access.for_api("chainbase", server)),
            *ops_routes(),
            *docs_routes(),
        ]
        super().__init__(routes=routes, **kwargs)
        # No redirect of "/path/" to "/path": Starlette builds it from the Host header, which
        # the client chooses (an open redirect); such paths are simply not found.
        self.router.redirect_slashes = False
        self.paths = {getattr(r, "path", "") for r in routes}
        self.max_body = engine.settings.server.max_body_bytes
        self.timeout = engine.settings.server.request_timeout
        self.state.engine = engine
        self.state.tokens = tokens
        self.state.history = history
        self.state.max_body_bytes = self.max_body
        self.state.request_timeout = self.timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        path: str = scope["path"]
        rid = _request_id(scope)
        token = request_id.set(rid)
        started = time.perf_counter()
        status, code = 500, None
        try:
            fast = self.rosetta.get(path)
            if fast is not None and scope["method"] == "POST":
                refused = self.access.active and rosetta_refusal(self.access, scope)
                if refused:
                    status, body, code = refused
                else:
                    status, body, code = await fast.answer(
                        scope, receive, self.max_body, self.timeout
                    )
                headers = [
                    _JSON,
                    (b"content-length", b"%d" % len(body)),
                    (b"x-request-id", rid.encode()),
                ]
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return

            async def send_wrapper(message: Message) -> None:
                nonlocal status, code
                if message["type"] == "http.response.start":
                    status = message["status"]
                    message["headers"] = [
                        *message.get("headers", []),
                        (b"x-request-id", rid.encode()),
                    ]
                elif message["type"] == "http.response.body" and status >= 400 and code is None:
                    code = _code_in(message.get("body", b""))
                await send(message)

            scope["app"] = self
            await super().__call__(scope, receive, send_wrapper)
        finally:
            self._account(scope, path, status, code, time.perf_counter() - started)
            request_id.reset(token)

    def _account(self, scope: Scope, path: str, status: int, code: Any, elapsed: float) -> None:
        route = path if path in self.paths else "other"
        child(REQUESTS, route, outcome(path, status, code)).inc()
        child(LATENCY, route).observe(elapsed)
        if route not in _QUIET:
            log.info(
                "%s %s %d %.1fms",
                scope.get("method"),
                path,
                status,
                elapsed * 1000,
                extra={"status": status, "route": route, "ms": round(elapsed * 1000, 2)},
            )


def create_app(engine: Engine) -> App:
    tokens = TokenService(engine.networks)
    history = HistoryService(engine.networks)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await engine.start()
        tokens.start()  # index followers, for networks with an index configured
        history.start()  # history followers, for networks with the history on
        try:
            yield
        finally:
            await history.stop()
            await tokens.stop()
            await engine.stop()

    return App(engine, tokens, history, lifespan=lifespan)
