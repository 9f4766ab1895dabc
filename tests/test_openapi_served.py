"""The served OpenAPI document: bundled from specs/, up to date, and covering every route."""

from __future__ import annotations

import json
from pathlib import Path

import requests
from starlette.routing import Route

from rosetta_node.api import create_app
from rosetta_node.engine import Engine
from rosetta_node.settings import load_settings
from scripts.build_openapi import BUNDLE, bundle, render
from tests.conftest import IndexedNode, RosettaClient
from tests.spec_check import validate_response

ROOT = Path(__file__).resolve().parent.parent


def test_the_bundled_document_is_up_to_date_with_specs() -> None:
    assert BUNDLE.read_text() == render(bundle()), (
        "rosetta_node/openapi.json is stale: run .venv/bin/python scripts/build_openapi.py"
    )


def test_every_served_route_is_in_the_bundle() -> None:
    app = create_app(Engine(load_settings(env={"ROSETTA_NODE_RPC_URL": "http://127.0.0.1:9"})))
    paths = bundle()["paths"]
    served = 0
    for route in app.routes:
        path = getattr(route, "path", "")
        if not isinstance(route, Route) or "{" in path:
            continue  # a catch-all answering "no such route" in its vendor's error shape
        assert path in paths, f"{path} is served but not in specs/"
        declared = getattr(route, "methods", None)
        if declared is None:  # takes any method and answers a wrong one in its vendor's shape
            assert set(paths[path]) & {"get", "post"}, f"{path}: no method in specs/"
            served += 1
            continue
        methods = {m.lower() for m in declared} - {"head"}
        for method in methods:
            assert method in paths[path], f"{method.upper()} {path} is served but not in specs/"
        served += 1
    assert served >= 14  # ten Rosetta routes and four operator routes at least


def test_openapi_json_is_served(node: RosettaClient) -> None:
    answer = requests.get(node.url + "/openapi.json", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    served = answer.json()
    assert served == json.loads(BUNDLE.read_text())
    validate_response("/openapi.json", 200, served, spec="operator.yaml", method="get")
    assert "/account/balance" in served["paths"]


def test_operator_routes_match_their_spec(indexed_node: IndexedNode) -> None:
    for path in ("/healthz", "/readyz"):
        answer = requests.get(indexed_node.url + path, timeout=10)
        validate_response(
            path, answer.status_code, answer.json(), spec="operator.yaml", method="get"
        )
    metrics = requests.get(indexed_node.url + "/metrics", timeout=10)
    assert metrics.status_code == 200 and "rosetta_node_requests_total" in metrics.text
