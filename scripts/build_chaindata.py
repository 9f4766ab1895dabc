"""Write rosetta_node/chaindata/<network>.json.gz from the pinned geth's own genesis dumps.

The built-in fork schedules and genesis allocations of mainnet, sepolia and hoodi are what
`geth --<network> dumpgenesis` prints (geth pinned in conformance/geth/go.mod), reduced to the
chain config and the non-zero balances. tests/test_chain_rules.py checks the files against
the same geth, so a stale file fails the tests.

Usage: .venv/bin/python scripts/build_chaindata.py
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.gotools import ensure_geth  # noqa: E402

NETWORKS = ("mainnet", "sepolia", "hoodi")
OUT = ROOT / "rosetta_node" / "chaindata"


def dump(network: str) -> dict[str, Any]:
    """The chain config and non-zero balances geth builds in for ``network``."""
    out = subprocess.run(
        [str(ensure_geth()), f"--{network}", "dumpgenesis"],
        capture_output=True,
        check=True,
        timeout=300,
    ).stdout
    genesis = json.loads(out)
    alloc = {}
    for address, entry in sorted(genesis["alloc"].items()):
        balance = int(entry.get("balance", "0x0"), 0)
        if balance:
            key = address.lower() if address.startswith("0x") else "0x" + address.lower()
            alloc[key] = hex(balance)
    return {"config": genesis["config"], "alloc": alloc}


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for network in NETWORKS:
        data = json.dumps(dump(network), sort_keys=True, separators=(",", ":")).encode()
        # mtime=0: the same input gives the same bytes, so a rebuild shows no diff.
        (OUT / f"{network}.json.gz").write_bytes(gzip.compress(data, 9, mtime=0))
        print(network, len(data), "bytes")


if __name__ == "__main__":
    main()
