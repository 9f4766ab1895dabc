"""The ASGI application: Rosetta routes and operator routes over one Engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware

from ..engine import Engine
from ..index.service import TokenService
from .chainbase import chainbase_routes
from .ops import RequestMiddleware, ops_routes
from .rosetta import rosetta_routes
from .sequence import sequence_routes


def create_app(engine: Engine) -> Starlette:
    tokens = TokenService(engine.networks)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await engine.start()
        tokens.start()  # index followers, for networks with an index configured
        try:
            yield
        finally:
            await tokens.stop()
            await engine.stop()

    routes = [
        *rosetta_routes(engine),
        *sequence_routes(engine, tokens),
        *chainbase_routes(engine, tokens),
        *ops_routes(),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(RequestMiddleware, routes={getattr(r, "path", "") for r in routes})],
    )
    app.state.engine = engine
    app.state.tokens = tokens
    app.state.max_body_bytes = engine.settings.server.max_body_bytes
    app.state.request_timeout = engine.settings.server.request_timeout
    return app
