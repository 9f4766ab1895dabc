"""Limits: request body size, per-request time, concurrency towards the node."""

from __future__ import annotations

import concurrent.futures
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from rosetta_node import errors as catalog
from rosetta_node.devnet import Anvil
from tests.conftest import CHAIN_ID, NETWORK, Devnet, JsonRpc, NodeProcess, RosettaClient
from tests.fault_proxy import FaultProxy, node_behind_proxy
from tests.spec_check import validate_response

MAX_CONNECTIONS = 4


@pytest.fixture(scope="module")
def limited(anvil: Anvil, devnet: Devnet) -> Iterator[tuple[FaultProxy, RosettaClient]]:
    env = {
        "ROSETTA_NODE_REQUEST_TIMEOUT": "1.0",
        "ROSETTA_NODE_RPC_TIMEOUT": "20",
        "ROSETTA_NODE_RPC_RETRIES": "0",
        "ROSETTA_NODE_RPC_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
        "ROSETTA_NODE_MAX_BODY_BYTES": "20000",
    }
    with node_behind_proxy(anvil.url, env, chain_id=CHAIN_ID) as (proxy, process):
        yield proxy, RosettaClient(process.url)


def _balance(account: str, index: int) -> dict[str, Any]:
    return {
        "network_identifier": NETWORK,
        "account_identifier": {"address": account},
        "block_identifier": {"index": index},
        "currencies": [{"symbol": "ETH", "decimals": 18}],
    }


def test_a_slow_node_gives_a_timeout_error_not_a_hang(
    limited: tuple[FaultProxy, RosettaClient], devnet: Devnet, rpc: JsonRpc
) -> None:
    proxy, node = limited
    account = devnet.workload.accounts[4]
    proxy.arm("delay", seconds=4.0)
    try:
        # The client gives up at 3 s: an answer must come from the 1 s request limit.
        answer = requests.post(node.url + "/account/balance", json=_balance(account, 30), timeout=3)
    finally:
        proxy.disarm()
    body = answer.json()
    node._check("/account/balance", answer.status_code, body)
    assert answer.status_code == 500 and body["code"] == catalog.NODE_TIMEOUT.code, body
    assert body["retriable"] is True and "longer than 1 s" in body["details"]["reason"]
    right = node.ok("/account/balance", _balance(account, 30))
    assert right["balances"][0]["value"] == str(rpc.balance(account, 30))


def test_concurrency_towards_the_node_is_bounded(
    anvil: Anvil, devnet: Devnet, rpc: JsonRpc
) -> None:
    # A proxy and node of their own: no other client's requests in the proxy's count, and no
    # short request limit (a request given up by it frees its connection while the proxy
    # still holds the request, which would count twice).
    proxy = FaultProxy(anvil.url).start()
    process = NodeProcess(
        ["--rpc-url", proxy.url, "--chain-id", str(CHAIN_ID)],
        env={"ROSETTA_NODE_RPC_MAX_CONNECTIONS": str(MAX_CONNECTIONS)},
    )
    process.wait()
    node = RosettaClient(process.url)
    account = devnet.workload.accounts[5]
    blocks = list(range(40, 80))
    proxy.max_in_flight = 0
    proxy.arm("delay", seconds=0.05)
    try:
        with concurrent.futures.ThreadPoolExecutor(32) as pool:
            answers = list(
                pool.map(
                    lambda i: requests.post(
                        node.url + "/account/balance", json=_balance(account, i), timeout=30
                    ),
                    blocks,
                )
            )
    finally:
        proxy.disarm()
        process.stop()
        proxy.stop()
    assert 1 < proxy.max_in_flight <= MAX_CONNECTIONS, proxy.max_in_flight
    for index, answer in zip(blocks, answers, strict=True):
        body = answer.json()
        node._check("/account/balance", answer.status_code, body)
        if answer.status_code == 200:
            assert body["balances"][0]["value"] == str(rpc.balance(account, index))
        else:
            raise AssertionError(f"block {index}: {body}")


def test_body_size_is_bounded(limited: tuple[FaultProxy, RosettaClient]) -> None:
    _, node = limited
    padding = "x" * 30_000
    big = {"network_identifier": NETWORK, "metadata": {"pad": padding}}
    error = node.error("/network/status", big, catalog.INVALID_REQUEST.code)
    assert "larger than 20000 bytes" in error["details"]["reason"]
    # A body longer than it claims (no Content-Length: chunked) is cut off the same way.
    chunks = (c.encode() for c in ['{"network_identifier": {"blockchain": "', padding, '"}}'])
    answer = requests.post(
        node.url + "/network/status",
        data=chunks,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 500 and answer.json()["code"] == catalog.INVALID_REQUEST.code


def test_a_client_that_stops_sending_does_not_hold_the_node(
    limited: tuple[FaultProxy, RosettaClient], devnet: Devnet
) -> None:
    _, node = limited
    host, port = node.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as stalled:
        stalled.sendall(
            b"POST /network/status HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n{"
        )
        # While that body never arrives, other requests are answered.
        body = node.ok("/network/list", {})
        assert body["network_identifiers"] == [NETWORK]


def test_translator_routes_have_the_time_limit_too(
    limited: tuple[FaultProxy, RosettaClient], devnet: Devnet
) -> None:
    proxy, node = limited
    account = devnet.workload.accounts[4]
    proxy.arm("delay", seconds=4.0)
    try:
        sequence = requests.post(
            node.url + "/rpc/IndexerGateway/GetNativeTokenBalance",
            json={"accountAddress": account},
            timeout=3,
        )
        chainbase = requests.get(
            node.url + "/v1/account/balance",
            params={"chain_id": CHAIN_ID, "address": account},
            timeout=3,
        )
    finally:
        proxy.disarm()
    body = sequence.json()
    validate_response("/rpc/IndexerGateway/GetNativeTokenBalance", 408, body, spec="sequence.yaml")
    assert sequence.status_code == 408 and body["code"] == 1900, body
    body = chainbase.json()
    validate_response("/v1/account/balance", 503, body, spec="chainbase.yaml", method="get")
    assert chainbase.status_code == 503 and "longer than 1 s" in body["message"], body
