"""The ASGI application: Rosetta routes over one Engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..engine import Engine
from .rosetta import rosetta_routes


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def create_app(engine: Engine) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await engine.start()
        try:
            yield
        finally:
            await engine.stop()

    app = Starlette(
        routes=[*rosetta_routes(engine), Route("/healthz", healthz, methods=["GET"])],
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.state.max_body_bytes = engine.settings.server.max_body_bytes
    return app
