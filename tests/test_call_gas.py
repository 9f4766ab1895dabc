"""eth_call's gas is capped (call_gas_cap) and a timed-out eth_call is not sent again (issue 15,
item 3), against anvil through a fault proxy that counts what reaches the node."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from rosetta_node import errors as catalog
from rosetta_node.devnet import Anvil
from tests.conftest import CHAIN_ID, NETWORK, Devnet, JsonRpc, RosettaClient
from tests.fault_proxy import FaultProxy, node_behind_proxy
from tests.workload import wait_receipt

# Init code returning the runtime 5b600056 (JUMPDEST PUSH1 0 JUMP): loops until out of gas.
LOOP_INIT = "0x6004600c60003960046000f3" + "5b600056"


def deploy_loop(rpc: JsonRpc) -> str:
    sender = rpc("eth_accounts")[0]
    tx = rpc("eth_sendTransaction", {"from": sender, "data": LOOP_INIT, "gas": hex(200_000)})
    receipt = wait_receipt(rpc, tx)
    assert receipt["status"] == "0x1"
    return str(receipt["contractAddress"])


@pytest.fixture(scope="module")
def loop(rpc: JsonRpc, devnet: Devnet) -> str:
    return deploy_loop(rpc)


@pytest.fixture(scope="module")
def proxied(anvil: Anvil, devnet: Devnet) -> Iterator[tuple[FaultProxy, RosettaClient]]:
    env = {
        "ROSETTA_NODE_REQUEST_TIMEOUT": "15",
        "ROSETTA_NODE_RPC_TIMEOUT": "1.5",
        "ROSETTA_NODE_RPC_RETRIES": "2",
    }
    with node_behind_proxy(anvil.url, env, chain_id=CHAIN_ID) as (proxy, process):
        yield proxy, RosettaClient(process.url)


def _call(method: str, parameters: dict[str, Any]) -> dict[str, Any]:
    return {"network_identifier": NETWORK, "method": method, "parameters": parameters}


def test_a_clients_gas_is_capped(proxied: tuple[FaultProxy, RosettaClient], loop: str) -> None:
    _, node = proxied
    for gas in ("0xffffffffffffffff", "0x2540be400"):
        started = time.monotonic()
        error = node.error(
            "/call", _call("eth_call", {"to": loop, "gas": gas}), catalog.CALL_REVERTED.code
        )
        elapsed = time.monotonic() - started
        # 50M gas of this loop is ~40 ms on anvil; 10^10 was 6.6 s, 2^64 never ends.
        assert elapsed < 1.0, elapsed
        assert "OutOfGas" in error["details"]["node_message"], error


def test_a_timed_out_eth_call_is_not_sent_again(
    proxied: tuple[FaultProxy, RosettaClient], devnet: Devnet
) -> None:
    proxy, node = proxied
    account = devnet.workload.accounts[1]
    proxy.arm("delay", seconds=2.0)
    try:
        before = proxy.requests
        error = node.error(
            "/call", _call("eth_call", {"to": account, "data": "0x"}), catalog.NODE_TIMEOUT.code
        )
        eth_call_posts = proxy.requests - before
        before = proxy.requests
        node.error("/call", _call("eth_getBalance", {"address": account}), 21)
        balance_posts = proxy.requests - before
    finally:
        proxy.disarm()
    assert error["retriable"] is True
    assert eth_call_posts == 1, eth_call_posts
    assert balance_posts == 3, balance_posts  # other reads are still retried (rpc_retries 2)
