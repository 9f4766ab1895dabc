"""Write rosetta_node/chaindata/<network>.json.gz from the pinned clients' own genesis dumps.

- mainnet, sepolia, hoodi: what `geth --<network> dumpgenesis` prints (geth pinned in
  conformance/geth/go.mod);
- op-mainnet, op-sepolia: what `op-geth --op-network <network> dumpgenesis` prints (op-geth
  pinned in conformance/opgeth/go.mod, which embeds the OP superchain registry);
- base-mainnet, base-sepolia: Base left the superchain registry in April 2026 (registry commit
  0d9aefc4), so the pinned op-geth no longer knows it. Its chain config is built here the way
  op-geth builds one from a registry entry (params/superchain.go: Shanghai at Canyon, Cancun at
  Ecotone, Prague at Isthmus), from the hardfork times of ``superchain/configs/<net>/base.toml``
  at registry commit 5b055be4 (the last with Base). Its allocations come from that commit's
  ``superchain/extra/genesis/<net>/base.json.zst`` (zstd with the registry's dictionary
  ``superchain/extra/dictionary``): pass the decompressed files as ``--base-genesis
  mainnet=FILE --base-genesis sepolia=FILE``; without them the Base files are left as they are.
  With that config, op-geth's ``init`` computes the genesis hashes the registry names
  (0xf712aa92...6c73dd and 0x0dcc9e08...f934e4).

Each is reduced to the chain config and the non-zero balances. tests/test_chain_rules.py checks
the geth and op-geth ones against the same binaries, so a stale file fails the tests.

Usage: .venv/bin/python scripts/build_chaindata.py [--base-genesis NET=FILE ...]
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.gotools import ensure_geth, ensure_opgeth  # noqa: E402

NETWORKS = ("mainnet", "sepolia", "hoodi")
OP_NETWORKS = ("op-mainnet", "op-sepolia")
OUT = ROOT / "rosetta_node" / "chaindata"
# Base's entries in the superchain registry at commit 5b055be4 (see the module docstring).
BASE = {
    "mainnet": {
        "chainId": 8453,
        "template": "op-mainnet",
        "eip1559Elasticity": 6,
        "times": {
            "canyon": 1704992401,
            "ecotone": 1710374401,
            "fjord": 1720627201,
            "granite": 1726070401,
            "holocene": 1736445601,
            "isthmus": 1746806401,
            "jovian": 1764691201,
        },
    },
    "sepolia": {
        "chainId": 84532,
        "template": "op-sepolia",
        "eip1559Elasticity": 10,
        "times": {
            "canyon": 1699981200,
            "ecotone": 1708534800,
            "fjord": 1716998400,
            "granite": 1723478400,
            "holocene": 1732633200,
            "isthmus": 1744905600,
            "jovian": 1763568001,
        },
    },
}


def dump_genesis(command: list[str]) -> dict[str, Any]:
    out = subprocess.run(command, capture_output=True, check=True, timeout=300).stdout
    genesis: dict[str, Any] = json.loads(out)
    return genesis


def reduce(genesis: dict[str, Any]) -> dict[str, Any]:
    """The chain config and the non-zero balances of a genesis."""
    alloc = {}
    for address, entry in sorted((genesis.get("alloc") or {}).items()):
        balance = int(entry.get("balance", "0x0"), 0)
        if balance:
            key = address.lower() if address.startswith("0x") else "0x" + address.lower()
            alloc[key] = hex(balance)
    return {"config": genesis["config"], "alloc": alloc}


def base_config(net: str) -> dict[str, Any]:
    """Base's chain config as op-geth would build it from the registry entry."""
    facts = BASE[net]
    template = dump_genesis(
        [str(ensure_opgeth()), "--op-network", str(facts["template"]), "dumpgenesis"]
    )["config"]
    config = {k: v for k, v in template.items() if not k.endswith("Time") or k == "regolithTime"}
    config["chainId"] = facts["chainId"]
    config["bedrockBlock"] = 0
    config["londonBlock"] = config["berlinBlock"] = 0
    for key in ("arrowGlacierBlock", "grayGlacierBlock", "mergeNetsplitBlock"):
        config[key] = 0
    times: dict[str, int] = facts["times"]  # type: ignore[assignment]
    config.update({f"{fork}Time": t for fork, t in times.items()})
    config["shanghaiTime"] = times["canyon"]
    config["cancunTime"] = times["ecotone"]
    config["pragueTime"] = times["isthmus"]
    config["optimism"] = {**template["optimism"], "eip1559Elasticity": facts["eip1559Elasticity"]}
    return config


def write(network: str, reduced: dict[str, Any]) -> None:
    data = json.dumps(reduced, sort_keys=True, separators=(",", ":")).encode()
    # mtime=0: the same input gives the same bytes, so a rebuild shows no diff.
    (OUT / f"{network}.json.gz").write_bytes(gzip.compress(data, 9, mtime=0))
    print(network, len(data), "bytes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-genesis", action="append", default=[], metavar="NET=FILE")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    for network in NETWORKS:
        write(network, reduce(dump_genesis([str(ensure_geth()), f"--{network}", "dumpgenesis"])))
    for network in OP_NETWORKS:
        command = [str(ensure_opgeth()), "--op-network", network, "dumpgenesis"]
        write(network, reduce(dump_genesis(command)))
    for item in args.base_genesis:
        net, _, path = item.partition("=")
        genesis = json.loads(Path(path).read_text())
        genesis["config"] = base_config(net)
        write(f"base-{net}", reduce(genesis))


if __name__ == "__main__":
    main()
