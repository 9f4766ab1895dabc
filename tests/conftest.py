"""Shared fixtures: a real anvil, a workload on it, and our node serving it as a subprocess.

Also, session-scoped and started only by the tests that ask for it, the same workload on a
real geth ``--dev`` archive node with our node in front of it (``geth_target``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from rosetta_node.devnet import Anvil
from tests.spec_check import validate_response
from tests.support.geth import Geth
from tests.support.node import ROOT as ROOT  # re-exported, as are JsonRpc, NodeProcess, ...
from tests.support.node import NodeProcess
from tests.support.node import wait_for_node as wait_for_node
from tests.support.rpc import JsonRpc
from tests.workload import WorkloadResult, run_workload, write_token_list

CHAIN_ID = 31337
NETWORK = {"blockchain": "Ethereum", "network": "devnet"}
# Keys and rate limits on the translator routes only: the tests' readiness polls of
# /network/list then need no key and spend no budget.
TRANSLATORS_ONLY = {
    "ROSETTA_NODE_KEYED_APIS": "sequence,chainbase",
    "ROSETTA_NODE_RATE_LIMITED_APIS": "sequence,chainbase",
}


@dataclass
class Response:
    status: int
    body: Any


class RosettaClient:
    """Posts to our node and checks every answer against specs/ and the advertised errors."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session = requests.Session()
        self._catalog: dict[int, dict[str, Any]] | None = None

    def raw(self, path: str, data: bytes | str, headers: dict[str, str] | None = None) -> Response:
        answer = self.session.post(self.url + path, data=data, headers=headers, timeout=120)
        body = answer.json()
        self._check(path, answer.status_code, body)
        return Response(answer.status_code, body)

    def post(self, path: str, body: Any) -> Response:
        return self.raw(path, json.dumps(body), {"Content-Type": "application/json"})

    def ok(self, path: str, body: Any) -> Any:
        answer = self.post(path, body)
        assert answer.status == 200, f"{path} failed: {answer.body}"
        return answer.body

    def error(self, path: str, body: Any, code: int) -> dict[str, Any]:
        answer = self.post(path, body)
        assert answer.status == 500, f"{path} expected error {code}, got {answer.body}"
        assert answer.body["code"] == code, f"{path} expected error {code}, got {answer.body}"
        return answer.body  # type: ignore[no-any-return]

    def catalog(self) -> dict[int, dict[str, Any]]:
        """The advertised errors, from /network/options of the first network served."""
        if self._catalog is None:
            listed = self.session.post(self.url + "/network/list", json={}, timeout=30).json()
            network = (listed.get("network_identifiers") or [NETWORK])[0]
            options = self.session.post(
                self.url + "/network/options", json={"network_identifier": network}, timeout=30
            ).json()
            self._catalog = {e["code"]: e for e in options["allow"]["errors"]}
        return self._catalog

    def _check(self, path: str, status: int, body: Any) -> None:
        validate_response(path, status, body)
        if status != 200:
            advertised = self.catalog().get(body["code"])
            assert advertised is not None, f"error {body['code']} not in /network/options"
            for key in ("message", "retriable"):
                assert advertised[key] == body[key], f"error {body['code']} {key} differs"


# A test that uses one of these fixtures (they start or need a real node), or that its module
# or the test marks `devnet`, is a devnet test; every other test is `unit`: no node is started,
# so `pytest -m unit` is a loop of seconds.
NODE_FIXTURES = frozenset(
    {"anvil", "geth", "target", "premerge_geth", "pruned", "paused_chain", "postgres", "pg_url"}
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "unit: needs no node (fast)")
    config.addinivalue_line("markers", "devnet: runs against a real node (anvil, geth, ...)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if item.get_closest_marker("devnet") is None and fixtures & NODE_FIXTURES:
            item.add_marker(pytest.mark.devnet)
        if item.get_closest_marker("devnet") is None:
            item.add_marker(pytest.mark.unit)


@pytest.fixture(scope="session")
def anvil() -> Iterator[Anvil]:
    with Anvil() as node:
        yield node


@pytest.fixture(scope="session")
def rpc(anvil: Anvil) -> JsonRpc:
    return JsonRpc(anvil.url)


@dataclass
class Devnet:
    workload: WorkloadResult
    token_list: Path
    tracked: list[Any]  # tokens in the token list
    untracked: Any  # a deployed token deliberately left out of the list


@pytest.fixture(scope="session")
def devnet(anvil: Anvil, tmp_path_factory: pytest.TempPathFactory) -> Devnet:
    return make_devnet(anvil.url, CHAIN_ID, tmp_path_factory.mktemp("devnet"))


def make_devnet(rpc_url: str, chain_id: int, workdir: Path) -> Devnet:
    """The workload on the chain at ``rpc_url``; a token list of all its tokens but the last."""
    result = run_workload(rpc_url, min_blocks=220)
    tracked, untracked = result.tokens[:-1], result.tokens[-1]
    token_list = workdir / "tokens.json"
    write_token_list(token_list, tracked, chain_id)
    return Devnet(result, token_list, tracked, untracked)


def serve_args(rpc_url: str, chain_id: int, token_list: Path) -> list[str]:
    """`serve` options for our node in front of a chain with a token list."""
    return ["--rpc-url", rpc_url, "--chain-id", str(chain_id), "--token-list", str(token_list)]


def devnet_args(anvil: Anvil, devnet: Devnet) -> list[str]:
    """`serve` options for our node in front of the session's devnet."""
    return serve_args(anvil.url, CHAIN_ID, devnet.token_list)


@pytest.fixture(scope="session")
def node(anvil: Anvil, devnet: Devnet) -> Iterator[RosettaClient]:
    process = NodeProcess(devnet_args(anvil, devnet))
    try:
        process.wait()
        yield RosettaClient(process.url)
    finally:
        process.stop()


@dataclass
class IndexedNode:
    """Our node serving the devnet with the Transfer-log index and the history on (translator
    routes)."""

    url: str
    process: NodeProcess
    db: Path

    def wait_indexed(self, block: int, timeout: float = 60.0) -> None:
        """Until /readyz says the index holds ``block`` (or later)."""
        self.process.wait_indexed(block, timeout=timeout)

    def wait_history(self, block: int, timeout: float = 120.0) -> dict[str, Any]:
        """Until the history holds ``block`` (or later); its newest block then."""
        deadline = time.monotonic() + timeout
        body = {"network_identifier": NETWORK, "limit": 1}
        while True:
            answer = requests.post(self.url + "/events/blocks", json=body, timeout=30).json()
            tip = answer.get("block_identifier")
            if tip is not None and tip["index"] >= block:
                return tip  # type: ignore[no-any-return]
            assert time.monotonic() < deadline, f"history at {tip}, waiting for {block}"
            time.sleep(0.1)


@pytest.fixture(scope="session")
def indexed_node(
    anvil: Anvil, devnet: Devnet, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[IndexedNode]:
    db = tmp_path_factory.mktemp("index") / "index.sqlite"
    process = NodeProcess(
        devnet_args(anvil, devnet),
        env={
            "ROSETTA_NODE_INDEX_DB": str(db),
            "ROSETTA_NODE_INDEX_POLL_INTERVAL": "0.2",
            "ROSETTA_NODE_HISTORY": "true",  # the translators' history methods
        },
    )
    try:
        process.wait()
        node = IndexedNode(process.url, process, db)
        node.wait_indexed(devnet.workload.last_block)
        yield node
    finally:
        process.stop()


@dataclass
class Target:
    """One node kind with the workload on it and our node in front: what a test runs against."""

    kind: str  # "anvil" or "geth"
    node: RosettaClient
    rpc: JsonRpc  # the chain node itself
    devnet: Devnet
    network: dict[str, str]  # our node's network identifier for it


@pytest.fixture(scope="session")
def geth() -> Iterator[Geth]:
    """A geth --dev archive node mining on demand (its blocks come from the workload)."""
    with Geth() as node:
        yield node


@pytest.fixture(scope="session")
def geth_devnet(geth: Geth, tmp_path_factory: pytest.TempPathFactory) -> Devnet:
    return make_devnet(geth.url, geth.chain_id, tmp_path_factory.mktemp("geth-devnet"))


@pytest.fixture(scope="session")
def geth_target(geth: Geth, geth_devnet: Devnet) -> Iterator[Target]:
    """Our node serving the geth devnet, with the workload on it."""
    process = NodeProcess(serve_args(geth.url, geth.chain_id, geth_devnet.token_list))
    try:
        process.wait()
        client = RosettaClient(process.url)
        (network,) = client.ok("/network/list", {})["network_identifiers"]
        yield Target("geth", client, JsonRpc(geth.url), geth_devnet, network)
    finally:
        process.stop()


@pytest.fixture(params=["anvil", "geth"])
def target(request: pytest.FixtureRequest) -> Target:
    """The session's anvil devnet, then the geth one (started on first use)."""
    if request.param == "geth":
        geth_target: Target = request.getfixturevalue("geth_target")
        return geth_target
    return Target(
        "anvil",
        request.getfixturevalue("node"),
        request.getfixturevalue("rpc"),
        request.getfixturevalue("devnet"),
        NETWORK,
    )
