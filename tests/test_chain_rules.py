"""Built-in fork schedules and genesis allocations: the same as the pinned geth's, and only for
the chain they belong to (chosen by genesis hash, never by chain id alone)."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
from pathlib import Path

import pytest

from rosetta_node.devnet import Anvil
from rosetta_node.engine.forks import BUILT_IN
from tests.conftest import JsonRpc, NodeProcess, RosettaClient
from tests.support.gotools import ensure_geth

pytestmark = pytest.mark.devnet  # every test here starts a node

CHAINDATA = Path(__file__).resolve().parent.parent / "rosetta_node" / "chaindata"


def _geth_genesis(network: str) -> dict[str, object]:
    out = subprocess.run(
        [str(ensure_geth()), f"--{network}", "dumpgenesis"], capture_output=True, check=True
    ).stdout
    return json.loads(out)  # type: ignore[no-any-return]


@pytest.mark.parametrize("network", sorted(set(BUILT_IN.values())))
def test_built_in_data_is_geths(network: str, tmp_path: Path) -> None:
    genesis = _geth_genesis(network)
    ours = json.loads(gzip.decompress((CHAINDATA / f"{network}.json.gz").read_bytes()))
    assert ours["config"] == genesis["config"]
    alloc = genesis["alloc"]
    assert isinstance(alloc, dict)
    theirs = {
        ("0x" + a.lower().removeprefix("0x")): int(e.get("balance", "0x0"), 0)
        for a, e in alloc.items()
    }
    assert {a: int(v, 16) for a, v in ours["alloc"].items()} == {
        a: v for a, v in theirs.items() if v
    }
    # The genesis hash we choose the network by is the one geth computes for that genesis.
    path = tmp_path / "genesis.json"
    path.write_text(json.dumps(genesis))
    init = subprocess.run(
        [str(ensure_geth()), "--datadir", str(tmp_path / "d"), "init", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    match = re.search(r"hash=([0-9a-f]{6})\.\.([0-9a-f]{6})", init.stderr)
    assert match, init.stderr[-2000:]
    (expected,) = [h for h, n in BUILT_IN.items() if n == network]
    assert (expected[2:8], expected[-6:]) == match.groups()


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
