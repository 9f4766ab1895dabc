"""API keys and rate limits on every API family, forwarded headers only from configured
proxies (issue 15, items 4, 5, 6), against a real node on anvil."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from rosetta_node import errors as catalog
from rosetta_node.devnet import Anvil
from tests.conftest import CHAIN_ID, NETWORK, Devnet, JsonRpc, NodeProcess, RosettaClient

Start = Callable[[dict[str, str]], NodeProcess]


@pytest.fixture
def start(anvil: Anvil) -> Iterator[Start]:
    """A node with these settings, ready once /healthz answers (operator routes need no key:
    the readiness look of NodeProcess asks /network/list, which may)."""
    started: list[NodeProcess] = []

    def run(env: dict[str, str]) -> NodeProcess:
        process = NodeProcess(
            ["--rpc-url", anvil.url, "--chain-id", str(CHAIN_ID)], env=env, start=False
        )
        started.append(process)
        process.launch()
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(process.url + "/healthz", timeout=2).status_code == 200:
                    return process
            except requests.ConnectionError:
                pass
            assert process.running and time.monotonic() < deadline, process.log_tail()
            time.sleep(0.1)

    yield run
    for process in started:
        process.stop()


def _balance(account: str) -> dict[str, Any]:
    return {
        "network_identifier": NETWORK,
        "account_identifier": {"address": account},
        "block_identifier": {"index": 5},
    }


def _post(client: RosettaClient, path: str, body: Any, key: str | None = None, **headers: str):
    if key is not None:
        headers["X-Api-Key"] = key
    return client.raw(path, requests.models.complexjson.dumps(body), headers)


def test_rosetta_routes_need_a_key_and_operator_routes_never(
    start: Start, devnet: Devnet, rpc: JsonRpc
) -> None:
    process = start({"ROSETTA_NODE_API_KEYS": "alpha-key"})
    node = RosettaClient(process.url)
    account = devnet.workload.accounts[2]
    call = {"network_identifier": NETWORK, "method": "eth_chainId", "parameters": {}}
    node._catalog = {
        e.code: {"message": e.message, "retriable": e.retriable} for e in catalog.CATALOG
    }
    for key in (None, "", "alpha-KEY", "guess"):
        for path, body in (("/account/balance", _balance(account)), ("/call", call)):
            answer = _post(node, path, body, key)
            assert answer.status == 500 and answer.body["code"] == catalog.API_KEY_REQUIRED.code
            assert "alpha" not in str(answer.body)
    answer = _post(node, "/account/balance", _balance(account), "alpha-key")
    assert answer.status == 200
    assert answer.body["balances"][0]["value"] == str(rpc.balance(account, 5))
    assert _post(node, "/call", call, "alpha-key").body["result"]["result"] == hex(CHAIN_ID)
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        assert requests.get(process.url + path, timeout=10).status_code == 200, path
    # The translators too, on the same keys.
    ping = process.url + "/rpc/IndexerGateway/Ping"
    assert requests.post(ping, json={}, timeout=10).status_code == 401
    assert requests.post(ping, json={}, headers={"X-Access-Key": "alpha-key"}).status_code == 200


def test_rosetta_routes_are_rate_limited_and_wrong_keys_counted_everywhere(
    start: Start,
) -> None:
    process = start(
        {"ROSETTA_NODE_API_KEYS": "alpha-key", "ROSETTA_NODE_RATE_LIMIT_PER_MINUTE": "4"}
    )
    node = RosettaClient(process.url)
    node._catalog = {
        e.code: {"message": e.message, "retriable": e.retriable} for e in catalog.CATALOG
    }
    codes = [_post(node, "/network/list", {}, "alpha-key").body.get("code") for _ in range(6)]
    assert codes[:4] == [None] * 4 and codes[4:] == [catalog.RATE_LIMITED.code] * 2, codes
    limited = _post(node, "/network/list", {}, "alpha-key").body
    assert limited["retriable"] is True and limited["details"]["retry_after"] >= 1
    # Wrong keys count against the client address on every API: Sequence, then Rosetta and
    # Chainbase share the spent budget.
    ping = process.url + "/rpc/IndexerGateway/Ping"
    statuses = [
        requests.post(ping, json={}, headers={"X-Access-Key": f"guess-{n}"}, timeout=10).status_code
        for n in range(6)
    ]
    assert statuses == [401] * 4 + [429] * 2, statuses
    assert _post(node, "/network/list", {}, "guess").body["code"] == catalog.RATE_LIMITED.code
    chainbase = requests.get(
        process.url + "/v1/account/balance",
        params={"chain_id": CHAIN_ID, "address": "0x" + "ab" * 20},
        headers={"x-api-key": "guess"},
        timeout=10,
    )
    assert chainbase.status_code == 429


def _wrong_key_statuses(url: str, forwarded: list[str]) -> list[int]:
    return [
        requests.post(
            url + "/rpc/IndexerGateway/Ping",
            json={},
            headers={"X-Access-Key": "guess", "X-Forwarded-For": value},
            timeout=10,
        ).status_code
        for value in forwarded
    ]


def test_forwarded_for_is_ignored_unless_from_a_configured_proxy(start: Start) -> None:
    limits = {"ROSETTA_NODE_API_KEYS": "alpha-key", "ROSETTA_NODE_RATE_LIMIT_PER_MINUTE": "3"}
    process = start(limits)
    # From loopback, not configured as a proxy: every forged address is the same caller.
    forged = [f"203.0.113.{n}" for n in range(6)]
    assert _wrong_key_statuses(process.url, forged) == [401] * 3 + [429] * 3
    trusting = start({**limits, "ROSETTA_NODE_FORWARDED_ALLOW_IPS": "127.0.0.1"})
    # From a configured proxy: each forwarded client has its own budget...
    assert _wrong_key_statuses(trusting.url, ["203.0.113.7", "203.0.113.8"] * 2) == [401] * 4
    # ... parsed and bounded: one IPv6 /64 is one caller, garbage one caller, and a 1 MB value
    # is refused by the head limit before it is anything.
    same_64 = [f"2001:db8::{n}" for n in range(1, 5)]
    assert _wrong_key_statuses(trusting.url, same_64) == [401] * 3 + [429]
    garbage = [f"not-an-address-{n}" for n in range(4)]
    assert _wrong_key_statuses(trusting.url, garbage) == [401] * 3 + [429]
    assert _wrong_key_statuses(trusting.url, ["1" * 1_000_000]) == [431]
