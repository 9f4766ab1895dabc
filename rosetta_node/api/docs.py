"""The API page: ``/docs`` shows the bundled OpenAPI document (``/openapi.json``) in Swagger UI,
served by the node itself from the ``swagger-ui-bundle-v2`` package (offline: no CDN), and
``/`` points to it. Operator routes: never behind a key.
"""

from __future__ import annotations

from importlib.metadata import version

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from .. import __version__

# What the page loads from the bundle; nothing else of it is served.
_ASSETS = {
    "swagger-ui.css",
    "index.css",
    "swagger-ui-bundle.js",
    "swagger-ui-standalone-preset.js",
    "favicon-32x32.png",
    "favicon-16x16.png",
}

# Requests sent from the page go to the server that served it, whatever the document's
# `servers` say (it names the default 127.0.0.1:8080; the node may listen elsewhere).
_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8">
  <title>rosetta-node API</title>
  <link rel="stylesheet" href="/docs/static/swagger-ui.css">
  <link rel="stylesheet" href="/docs/static/index.css">
  <link rel="icon" type="image/png" href="/docs/static/favicon-32x32.png" sizes="32x32">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/static/swagger-ui-bundle.js"></script>
  <script src="/docs/static/swagger-ui-standalone-preset.js"></script>
  <script>
    window.onload = function () {
      window.ui = SwaggerUIBundle({
        url: "/openapi.json",
        dom_id: "#swagger-ui",
        deepLinking: true,
        tryItOutEnabled: true,
        presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
        layout: "StandaloneLayout",
        requestInterceptor: function (req) {
          req.url = req.url.replace(/^https?:\\/\\/[^\\/]+/, window.location.origin);
          return req;
        },
      });
    };
  </script>
</body>
</html>
"""

_HOME = f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="UTF-8"><title>rosetta-node</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
  <h1>rosetta-node {__version__}</h1>
  <p>A Rosetta (Mesh) Data API node for EVM chains, with the Sequence Indexer Gateway and
  Chainbase Web3 API routes as translators over the same engine.</p>
  <ul>
    <li><a href="/docs">API page</a>: every route, and requests sent from the page</li>
    <li><a href="/openapi.json">/openapi.json</a>: the OpenAPI document</li>
    <li><a href="/healthz">/healthz</a>, <a href="/readyz">/readyz</a>,
      <a href="/metrics">/metrics</a></li>
  </ul>
  <p>Swagger UI {version("swagger-ui-bundle-v2")}, served by this node.</p>
</body>
</html>
"""


class _Assets(StaticFiles):
    """Only the page's own files, cached by the browser (they change with the package)."""

    async def get_response(self, path: str, scope: object) -> Response:  # type: ignore[override]
        if path not in _ASSETS:
            return Response("Not Found", status_code=404, media_type="text/plain")
        response = await super().get_response(path, scope)  # type: ignore[arg-type]
        response.headers["Cache-Control"] = "public, max-age=86400"
        return response


async def docs(request: Request) -> Response:
    return HTMLResponse(_PAGE)


async def home(request: Request) -> Response:
    return HTMLResponse(_HOME)


def docs_routes() -> list[BaseRoute]:
    return [
        Route("/", home, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
        Mount("/docs/static", app=_Assets(directory=str(swagger_ui_path)), name="docs-static"),
    ]
