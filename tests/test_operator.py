"""Operator surface: /healthz, /readyz following the RPC node, /metrics, logs without secrets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from rosetta_node.devnet import Anvil, free_port
from tests.conftest import CHAIN_ID, NETWORK, TRANSLATORS_ONLY, NodeProcess, RosettaClient

pytestmark = pytest.mark.devnet  # every test here starts a node


def _samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = requests.get(url + "/metrics", timeout=10).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_health_and_ready(node: RosettaClient) -> None:
    assert requests.get(node.url + "/healthz", timeout=5).json() == {"status": "ok"}
    ready = requests.get(node.url + "/readyz", timeout=10)
    assert ready.status_code == 200
    assert ready.json() == {
        "ready": True,
        "networks": [{"network": "Ethereum/devnet", "ready": True, "problems": []}],
    }


def test_metrics_parse_and_move(node: RosettaClient) -> None:
    before = _samples(node.url)
    ok_key = ("rosetta_node_requests_total", (("outcome", "ok"), ("route", "/network/status")))
    err_key = (
        "rosetta_node_requests_total",
        (("outcome", "client_error"), ("route", "/account/balance")),
    )
    rpc_key = ("rosetta_node_rpc_calls_total", (("method", "eth_syncing"),))
    for _ in range(3):
        node.ok("/network/status", {"network_identifier": NETWORK})
    node.error(
        "/account/balance",
        {"network_identifier": NETWORK, "account_identifier": {"address": "0x1"}},
        4,
    )
    for _ in range(2):  # the second answer comes from the hash-keyed caches
        node.ok("/block", {"network_identifier": NETWORK, "block_identifier": {"index": 0}})
    after = _samples(node.url)
    assert after[ok_key] - before.get(ok_key, 0) == 3
    assert after[err_key] - before.get(err_key, 0) == 1
    assert after[rpc_key] - before.get(rpc_key, 0) == 3
    histogram = ("rosetta_node_request_seconds_count", (("route", "/network/status"),))
    assert after[histogram] - before.get(histogram, 0) == 3
    hit = ("rosetta_node_cache_lookups_total", (("cache", "blocks"), ("result", "hit")))
    assert after[hit] - before.get(hit, 0) >= 1


def test_readyz_follows_the_rpc_node() -> None:
    port = free_port()
    chain = Anvil()
    chain.start(port=port)
    process = NodeProcess(["--rpc-url", chain.url, "--chain-id", str(CHAIN_ID)])
    try:
        process.wait()
        assert requests.get(process.url + "/readyz", timeout=10).status_code == 200
        chain.stop()
        down = requests.get(process.url + "/readyz", timeout=20)
        assert down.status_code == 503
        problems = down.json()["networks"][0]["problems"]
        assert problems and "unreachable" in problems[0]
        chain.start(port=port)
        deadline = time.monotonic() + 30
        while requests.get(process.url + "/readyz", timeout=10).status_code != 200:
            assert time.monotonic() < deadline, "did not become ready again"
            time.sleep(0.25)
        RosettaClient(process.url).ok("/network/status", {"network_identifier": NETWORK})
    finally:
        process.stop()
        chain.stop()


def test_credentials_never_leak() -> None:
    secret = "s3cr3t-Pa55"
    dead = free_port()
    url = f"http://admin:{secret}@127.0.0.1:{dead}/v3/{secret}?apikey={secret}"
    process = NodeProcess(["--rpc-url", url, "--chain-id", str(CHAIN_ID), "--log-level", "debug"])
    try:
        process.wait()
        node = RosettaClient(process.url)
        bodies = [
            node.post("/network/status", {"network_identifier": NETWORK}).body,
            node.post(
                "/account/balance",
                {"network_identifier": NETWORK, "account_identifier": {"address": "0x" + "1" * 40}},
            ).body,
            requests.get(process.url + "/readyz", timeout=20).json(),
            node.post("/network/options", {"network_identifier": NETWORK}).body,
        ]
        time.sleep(2.5)  # let the background probe retry and log
        for body in bodies:
            assert secret not in json.dumps(body)
        assert "127.0.0.1" in json.dumps(bodies[0])  # the node is still named, without secrets
        output = process.output()
        assert output, "the node logged something"
        assert secret not in output
        assert secret not in requests.get(process.url + "/metrics", timeout=10).text
        # not on a terminal: one JSON object per line
        for line in output.splitlines():
            if line.startswith("{"):
                json.loads(line)
    finally:
        process.stop()


def test_api_keys_never_leak(anvil: Anvil) -> None:
    keys = ["k3y-Alpha-0001", "k3y-Bravo-0002"]
    near_miss = "k3y-Alpha-0002"  # what a guesser sends: it must not be echoed either
    env = {
        "ROSETTA_NODE_API_KEYS": ",".join(keys),
        "ROSETTA_NODE_LOG_LEVEL": "debug",
        **TRANSLATORS_ONLY,
    }
    process = NodeProcess(["--rpc-url", anvil.url, "--chain-id", str(CHAIN_ID)], env=env)
    try:
        process.wait()
        texts = []
        for key in [None, near_miss, keys[0], keys[1]]:
            headers = {} if key is None else {"X-Access-Key": key, "x-api-key": key}
            ping = requests.post(
                process.url + "/rpc/IndexerGateway/Ping", json={}, headers=headers, timeout=10
            )
            balance = requests.get(
                process.url + "/v1/account/balance",
                params={"chain_id": CHAIN_ID, "address": "0x" + "ab" * 20},
                headers=headers,
                timeout=10,
            )
            assert (ping.status_code == 200) == (key in keys), ping.text
            assert (balance.status_code == 200) == (key in keys), balance.text
            texts += [ping.text, balance.text, json.dumps(dict(ping.headers))]
        texts.append(requests.get(process.url + "/readyz", timeout=10).text)
        texts.append(requests.get(process.url + "/metrics", timeout=10).text)
        texts.append(requests.get(process.url + "/openapi.json", timeout=10).text)
        check = subprocess.run(
            [sys.executable, "-m", "rosetta_node", "check-config", "--rpc-url", anvil.url],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        texts += [check.stdout, check.stderr]
        time.sleep(0.5)
        texts.append(process.output())
        for secret in [*keys, near_miss, "Alpha", "Bravo"]:
            for text in texts:
                assert secret not in text, f"{secret!r} leaked"
    finally:
        process.stop()
