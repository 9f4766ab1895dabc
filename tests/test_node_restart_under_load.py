"""The RPC node is stopped and started again while clients keep asking: every answer meanwhile
is a retriable error, never a wrong one, and the node recovers by itself (no restart of ours)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from rosetta_node.devnet import Anvil, free_port
from tests.conftest import CHAIN_ID, NETWORK, JsonRpc, NodeProcess
from tests.spec_check import validate_response

pytestmark = pytest.mark.devnet  # every test here starts a node

SENDER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
RECEIVERS = [
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
]


def _client(url: str, stop: threading.Event, out: list[Any]) -> None:
    session = requests.Session()
    i = 0
    while not stop.is_set():
        i += 1
        account = RECEIVERS[i % len(RECEIVERS)]
        if i % 2:
            path = "/account/balance"
            body: dict[str, Any] = {
                "network_identifier": NETWORK,
                "account_identifier": {"address": account},
            }
        else:
            path = "/network/status"
            body = {"network_identifier": NETWORK}
        try:
            answer = session.post(url + path, json=body, timeout=30)
        except requests.RequestException as exc:  # our node must never drop a connection
            out.append((path, account, 0, repr(exc), time.monotonic()))
            continue
        out.append((path, account, answer.status_code, answer.json(), time.monotonic()))
        time.sleep(0.005)


def test_rpc_node_restart_under_load(tmp_path: Path) -> None:
    port = free_port()
    state = ["--state", str(tmp_path / "anvil-state.json")]
    chain = Anvil()
    chain.start(port=port, extra_args=state)
    rpc = JsonRpc(chain.url)
    for n, receiver in enumerate(RECEIVERS):
        tx = rpc("eth_sendTransaction", {"from": SENDER, "to": receiver, "value": hex(10**15 + n)})
        while rpc("eth_getTransactionReceipt", tx) is None:
            time.sleep(0.01)
    head = rpc("eth_getBlockByNumber", "latest", False)
    balances = {r: str(rpc.balance(r, "latest")) for r in RECEIVERS}
    process = NodeProcess(
        ["--rpc-url", chain.url, "--chain-id", str(CHAIN_ID)],
        env={"ROSETTA_NODE_RPC_TIMEOUT": "2", "ROSETTA_NODE_RPC_RETRIES": "1"},
    )
    out: list[Any] = []
    stop = threading.Event()
    try:
        process.wait()
        clients = [
            threading.Thread(target=_client, args=(process.url, stop, out)) for _ in range(3)
        ]
        for thread in clients:
            thread.start()
        time.sleep(1.0)
        chain.stop()  # SIGTERM: anvil writes its state file, blocks and all
        down_at = time.monotonic()
        time.sleep(2.0)
        chain.start(port=port, extra_args=state)
        up_at = time.monotonic()
        assert rpc("eth_getBlockByNumber", "latest", False)["hash"] == head["hash"]
        deadline = time.monotonic() + 30
        while not any(r[2] == 200 and r[4] > up_at + 0.5 for r in out):
            assert time.monotonic() < deadline, "our node did not recover by itself"
            time.sleep(0.1)
        time.sleep(1.0)
    finally:
        stop.set()
        for thread in clients:
            thread.join(30)
        process.stop()
        chain.stop()

    errors_while_down = 0
    for path, account, status, body, at in out:
        assert status != 0, f"a connection to our node failed: {body}"
        validate_response(path, status, body)
        if status == 200:
            if path == "/account/balance":
                assert body["block_identifier"]["hash"] == head["hash"]
                assert body["balances"][0]["value"] == balances[account]
            else:
                assert body["current_block_identifier"]["hash"] == head["hash"]
        else:
            assert body["retriable"] is True, body
            errors_while_down += down_at <= at
    ok_after = sum(1 for r in out if r[2] == 200 and r[4] > up_at)
    ok_before = sum(1 for r in out if r[2] == 200 and r[4] < down_at)
    assert ok_before > 20 and ok_after > 20 and errors_while_down > 5, (
        ok_before,
        ok_after,
        errors_while_down,
    )
