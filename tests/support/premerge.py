"""A small mainnet-like pre-merge chain, imported into the pinned geth as an archive node.

``conformance/geth/premerge`` (Go, built by :func:`tests.support.gotools.ensure_go_program`)
writes a deterministic chain from Frontier through the DAO fork, Byzantium, Constantinople,
London, the merge, Shanghai and Cancun: uncles, DAO refunds, pre-Byzantium receipts, failing
transactions, nested value transfers, SELFDESTRUCT before and after EIP-6780, withdrawals. Its
``facts.json`` says what is where (fork blocks, per-category transaction hashes, every address).

:func:`build_premerge_chain` generates it and imports it into a fresh geth datadir with the hash
state scheme and ``--gcmode archive``, so geth keeps the state of every block;
``tests.support.geth.Geth(datadir=...)`` serves that datadir over HTTP JSON-RPC. geth needs no
consensus client for that: the chain ends after the merge, and geth just serves what it has.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.gotools import ensure_geth, ensure_go_program

GENERATE_TIMEOUT = 120.0
INIT_TIMEOUT = 120.0
IMPORT_TIMEOUT = 600.0
_OUTPUT_TAIL = 4000
_IMPORTED = re.compile(r"Imported new chain segment\s+number=([\d,]+)")


@dataclass(frozen=True)
class PremergeChain:
    genesis: Path  # genesis.json, as given to geth init
    chain_rlp: Path  # blocks 1..last_block, as given to geth import
    sentinels: list[Path]  # empty blocks last_block + 1, + 2, ... for admin_importChain
    datadir: Path  # geth datadir holding the imported chain (hash scheme, archive)
    facts: dict[str, Any]  # facts.json
    chain_id: int
    last_block: int


def build_premerge_chain(workdir: Path, *, geth: Path | None = None) -> PremergeChain:
    """Generate the chain into ``workdir/chain`` and import it into ``workdir/datadir``."""
    workdir = Path(workdir)
    out = workdir / "chain"
    datadir = workdir / "datadir"
    if datadir.exists():
        raise FileExistsError(f"{datadir} already exists; build_premerge_chain needs a fresh one")
    out.mkdir(parents=True, exist_ok=True)

    _run([str(ensure_go_program("premerge")), "-out", str(out)], "premerge", GENERATE_TIMEOUT)
    genesis = out / "genesis.json"
    chain_rlp = out / "chain.rlp"
    sentinels = sorted(out.glob("sentinel-*.rlp"))
    facts = json.loads((out / "facts.json").read_text())
    last_block = int(facts["last_block"])

    geth_bin = str(geth or ensure_geth())
    base = [geth_bin, "--datadir", str(datadir), "--state.scheme", "hash"]
    _run([*base, "init", str(genesis)], "geth init", INIT_TIMEOUT)
    output = _run(
        [*base, "--gcmode", "archive", "import", "--nocompaction", str(chain_rlp)],
        "geth import",
        IMPORT_TIMEOUT,
    )
    # geth exits non-zero when a block is rejected; also make sure every block went in.
    imported = [int(m.replace(",", "")) for m in _IMPORTED.findall(output)]
    if not imported or max(imported) != last_block:
        raise RuntimeError(
            f"geth import did not reach block {last_block} (imported up to {imported}):\n"
            f"{output[-_OUTPUT_TAIL:]}"
        )
    return PremergeChain(
        genesis=genesis,
        chain_rlp=chain_rlp,
        sentinels=sentinels,
        datadir=datadir,
        facts=facts,
        chain_id=int(facts["chain_id"]),
        last_block=last_block,
    )


def _run(cmd: list[str], what: str, timeout: float) -> str:
    try:
        proc = subprocess.run(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        tail = _text(exc.output)[-_OUTPUT_TAIL:]
        raise RuntimeError(f"{what} timed out after {timeout:.0f}s:\n{tail}") from exc
    if proc.returncode != 0:
        raise RuntimeError(
            f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n"
            f"{proc.stdout[-_OUTPUT_TAIL:]}"
        )
    return proc.stdout


def _text(data: str | bytes | None) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data
