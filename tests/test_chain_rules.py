"""Built-in fork schedules and genesis allocations: the same as the pinned geth's and op-geth's,
and only for the chain they belong to (chosen by genesis hash, never by chain id alone)."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from rosetta_node.devnet import Anvil
from rosetta_node.engine.forks import BUILT_IN, choose_rules
from rosetta_node.engine.opstack import OP_STACK
from tests.conftest import JsonRpc, NodeProcess, RosettaClient
from tests.support.gotools import ensure_geth, ensure_opgeth

pytestmark = pytest.mark.devnet  # every test here starts a node

CHAINDATA = Path(__file__).resolve().parent.parent / "rosetta_node" / "chaindata"


def _client_genesis(network: str) -> tuple[Path, dict[str, Any]]:
    """The genesis the pinned client builds in for ``network``: geth for Ethereum's networks,
    op-geth (its superchain registry) for OP Mainnet and OP Sepolia."""
    if network.startswith("op-"):
        binary, flags = ensure_opgeth(), ["--op-network", network]
    else:
        binary, flags = ensure_geth(), [f"--{network}"]
    out = subprocess.run([str(binary), *flags, "dumpgenesis"], capture_output=True, check=True)
    return binary, json.loads(out.stdout)


# Base left the superchain registry (and so the pinned op-geth); scripts/build_chaindata.py says
# where its data comes from and how its genesis hashes were checked.
FROM_CLIENTS = sorted(n for n in set(BUILT_IN.values()) if not n.startswith("base-"))


@pytest.mark.parametrize("network", FROM_CLIENTS)
def test_built_in_data_is_the_clients(network: str, tmp_path: Path) -> None:
    binary, genesis = _client_genesis(network)
    ours = json.loads(gzip.decompress((CHAINDATA / f"{network}.json.gz").read_bytes()))
    assert ours["config"] == genesis["config"]
    alloc = genesis["alloc"] or {}  # OP Mainnet's legacy genesis comes without one
    assert isinstance(alloc, dict)
    theirs = {
        ("0x" + a.lower().removeprefix("0x")): int(e.get("balance", "0x0"), 0)
        for a, e in alloc.items()
    }
    assert {a: int(v, 16) for a, v in ours["alloc"].items()} == {
        a: v for a, v in theirs.items() if v
    }
    (expected,) = [h for h, n in BUILT_IN.items() if n == network]
    if network == "op-mainnet":
        # No allocations to init a datadir with: op-geth checks this hash itself when it opens
        # an OP Mainnet datadir (core/superchain.go), and so do we, below, by its number.
        assert ours["config"]["bedrockBlock"] == 105235063
        return
    # The genesis hash we choose the network by is the one the client computes for it.
    path = tmp_path / "genesis.json"
    path.write_text(json.dumps(genesis))
    init = subprocess.run(
        [str(binary), "--datadir", str(tmp_path / "d"), "init", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    match = re.search(r"hash=([0-9a-f]{6})\.\.([0-9a-f]{6})", init.stderr)
    assert match, init.stderr[-2000:]
    assert (expected[2:8], expected[-6:]) == match.groups()


@pytest.mark.parametrize(
    ("network", "chain_id"),
    [("op-mainnet", 10), ("op-sepolia", 11155420), ("base-mainnet", 8453), ("base-sepolia", 84532)],
)
def test_op_stack_networks_are_chosen_by_genesis_hash(network: str, chain_id: int) -> None:
    (genesis_hash,) = [h for h, n in BUILT_IN.items() if n == network]
    config = json.loads(gzip.decompress((CHAINDATA / f"{network}.json.gz").read_bytes()))["config"]
    rules = choose_rules(genesis_hash, chain_id, None, None, None)
    assert rules.family == OP_STACK and not rules.ethash
    assert rules.source == f"built-in {network}"
    assert rules.jovian_time == config["jovianTime"]
    assert rules.bedrock_block == config["bedrockBlock"]
    assert rules.is_jovian(config["jovianTime"]) and not rules.is_jovian(config["jovianTime"] - 1)
    # The same chain id on another genesis: the family still, none of the network's schedule.
    other = choose_rules("0x" + "ab" * 32, chain_id, None, None, None)
    assert other.family == OP_STACK and other.jovian_time is None and other.bedrock_block == 0


def test_chain_id_1_test_chain_gets_no_mainnet_rules() -> None:
    """A test chain signed with chain id 1 is not mainnet: no built-in allocations appear."""
    with Anvil() as chain:
        chain.stop()
        chain.start(chain_id=1)
        process = NodeProcess(["--rpc-url", chain.url, "--chain-id", "1"])
        try:
            process.wait()
            node = RosettaClient(process.url)
            network = {"blockchain": "Ethereum", "network": "mainnet"}
            query = {"network_identifier": network, "block_identifier": {"index": 0}}
            block = node.ok("/block", query)
            rpc = JsonRpc(chain.url)
            ops = [op for tx in block["block"]["transactions"] for op in tx["operations"]]
            assert ops == []  # anvil's chain has no genesis file given: nothing is claimed
            assert rpc("eth_getBlockByNumber", "0x0", False)["hash"] not in BUILT_IN
            assert "is not that network's" in process.output()
        finally:
            process.stop()
