"""A private geth ``--dev`` node for tests and conformance runs, like ``rosetta_node.devnet.Anvil``.

It runs the pinned geth (:func:`tests.support.gotools.ensure_geth`) on a temp datadir initialised
from our own dev genesis (:func:`dev_genesis`): geth's ``--dev`` config, but with forks only
through Osaka (``geth --dev dumpgenesis`` also turns on an experimental fork past Osaka, under
which an ERC-20 transfer to a new holder costs 147,880 gas), a real genesis timestamp, and
``alloc`` funding anvil's ten dev keys (from anvil's mnemonic, so the workload's accounts are the
same on both nodes) and geth's fixed developer key, the fee recipient of every block.

Archive by default (``--state.scheme hash --gcmode archive``: state at every block); ``pruned=True``
gives a full node with the path scheme (``--state.scheme path --gcmode full``: recent states only).

Blocks. ``automine=False`` (the default, what :mod:`tests.workload` needs) is anvil's "automine
off": transactions wait in the pool and :meth:`Geth.mine` / :func:`commit_block` seal the next
block through geth's ``testing_commitBlockV1`` (the pool's pending transactions, or none for an
empty block, plus any withdrawals). geth's simulated beacon then seals only once, at start-up
(block 1, empty): its period is set so long that it never seals again, because a block it
sealed after one of ours could reuse a timestamp (it tracks only its own last block time).
``automine=True`` is ``--dev.period 0``: the simulated beacon seals a block as soon as a
transaction (or a ``dev_addWithdrawal``) arrives; do not mix it with :meth:`mine`.

``Geth(datadir=D, chain_id=N)`` instead serves a chain already in ``D`` (e.g. one imported by
``geth import``) without ``--dev``: no genesis of ours, no mining; ``D`` is left in place on stop.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_utils import keccak, to_checksum_address

from rosetta_node.devnet import LocalNode, free_port, tail
from tests.support.gotools import ensure_geth

CHAIN_ID = 1337  # geth --dev's chain id
DEV_MNEMONIC = "test test test test test test test test test test test junk"  # anvil's
DEV_KEY_COUNT = 10
DEV_BALANCE = 10_000 * 10**18  # what anvil gives each dev account
# geth's fixed --dev developer key (cmd/utils/flags.go DeveloperKey): the fee recipient here.
DEVELOPER_KEY = "0xb71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291"
DEVELOPER_ADDRESS = to_checksum_address(Account.from_key(DEVELOPER_KEY).address)
READY_TIMEOUT = 60.0
# The simulated beacon's period when blocks are mined on demand: it seals block 1 at start-up
# and then not for ~30 years.
_NEVER = 10**9
_ZERO_HASH = "0x" + "00" * 32


def is_geth(client_version: str) -> bool:
    """Whether ``web3_clientVersion`` names geth (``Geth/v1.17.10-stable/...``)."""
    return client_version.lower().startswith("geth/")


@functools.cache
def dev_keys(count: int = DEV_KEY_COUNT) -> tuple[str, ...]:
    """Private keys of anvil's dev accounts: m/44'/60'/0'/0/i of anvil's mnemonic."""
    Account.enable_unaudited_hdwallet_features()
    return tuple(
        "0x" + Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}").key.hex()
        for i in range(count)
    )


def dev_addresses(count: int = DEV_KEY_COUNT) -> list[str]:
    return [to_checksum_address(Account.from_key(k).address) for k in dev_keys(count)]


def dump_dev_genesis(binary: Path) -> dict[str, Any]:
    """What ``<binary> --dev dumpgenesis`` prints (geth's or op-geth's own dev genesis)."""
    proc = subprocess.run(
        [str(binary), "--dev", "dumpgenesis"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{binary.name} --dev dumpgenesis failed: {tail(proc.stderr)}")
    genesis: dict[str, Any] = json.loads(proc.stdout)
    return genesis


def dev_genesis(
    geth: Path | None = None,
    *,
    extra_alloc: dict[str, int] | None = None,
    timestamp: int | None = None,
) -> dict[str, Any]:
    """geth's ``--dev`` genesis with forks through Osaka only and the dev keys funded.

    From ``geth --dev dumpgenesis``: every fork time after ``osakaTime`` (in the config's own
    order: BPOs, Amsterdam, the experimental ones) is dropped with its ``blobSchedule`` entry.
    ``alloc`` keeps the precompiles and system contracts and adds the ten dev accounts and geth's
    developer account with :data:`DEV_BALANCE` each, plus ``extra_alloc`` (address -> wei).
    """
    genesis = dump_dev_genesis(geth or ensure_geth())
    config: dict[str, Any] = genesis["config"]
    if "osakaTime" not in config:
        raise RuntimeError(f"geth's dev genesis has no osakaTime: {sorted(config)}")
    keys = list(config)
    later = [k for k in keys[keys.index("osakaTime") + 1 :] if k.endswith("Time")]
    for key in later:
        del config[key]
        (config.get("blobSchedule") or {}).pop(key.removesuffix("Time"), None)
    genesis["timestamp"] = hex(int(time.time()) if timestamp is None else timestamp)
    alloc: dict[str, Any] = genesis["alloc"]
    funded = {a: DEV_BALANCE for a in [*dev_addresses(), DEVELOPER_ADDRESS]}
    funded.update(extra_alloc or {})
    for address, wei in funded.items():
        alloc[address[2:].lower()] = {"balance": hex(wei)}
    return genesis


def commit_block(
    call: Callable[..., Any],
    transactions: Sequence[str] | None = None,
    *,
    withdrawals: Sequence[dict[str, Any]] = (),
    fee_recipient: str = DEVELOPER_ADDRESS,
) -> str:
    """Seal the next block through ``testing_commitBlockV1``; return its hash.

    ``call(method, *params)`` is one JSON-RPC call to the node. ``transactions`` None: the
    pool's pending transactions (the caller makes sure they are pending, e.g. by
    ``txpool_status``); ``[]``: an empty block; raw transactions: exactly those. Withdrawals
    are ``{"index", "validatorIndex", "address", "amount"}`` (hex quantities, amount in gwei).
    """
    head = call("eth_getBlockByNumber", "latest", False)
    number = int(head["number"], 16) + 1
    attributes = {
        "timestamp": hex(max(int(time.time()), int(head["timestamp"], 16) + 1)),
        "prevRandao": "0x" + keccak(b"rosetta-node prevRandao" + number.to_bytes(8, "big")).hex(),
        "suggestedFeeRecipient": fee_recipient,
        "withdrawals": list(withdrawals),
        "parentBeaconBlockRoot": _ZERO_HASH,
    }
    txs = None if transactions is None else list(transactions)
    block_hash: str = call("testing_commitBlockV1", attributes, txs, None)
    return block_hash


def init_datadir(
    binary: Path, workdir: Path, datadir: Path, genesis: dict[str, Any], scheme: list[str]
) -> None:
    """``<binary> init`` of ``genesis`` (written to the work dir) into ``datadir``; the work dir
    is removed when that fails."""
    (workdir / "genesis.json").write_text(json.dumps(genesis))
    init = subprocess.run(
        [str(binary), "--datadir", str(datadir), *scheme, "init", str(workdir / "genesis.json")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if init.returncode != 0:
        shutil.rmtree(workdir, ignore_errors=True)
        raise RuntimeError(f"{binary.name} init failed:\n{tail(init.stderr)}")


def loopback_args(datadir: Path, port: int, auth_port: int, apis: str) -> list[str]:
    """geth's (and op-geth's) flags for a private full-sync node on loopback: no peers, no IPC,
    HTTP JSON-RPC on ``port`` with ``apis``, the engine API on ``auth_port``."""
    return [
        "--datadir", str(datadir),
        "--syncmode", "full",
        "--nodiscover", "--maxpeers", "0", "--port", "0",
        "--ipcdisable",
        "--authrpc.addr", "127.0.0.1", "--authrpc.port", str(auth_port),
        "--http", "--http.addr", "127.0.0.1", "--http.port", str(port), "--http.api", apis,
        "--cache", "256",
    ]  # fmt: skip


class Geth(LocalNode):
    """A private geth ``--dev`` process on 127.0.0.1 with its own datadir.

    Use as ``with Geth() as node: ... node.url ...`` or call :meth:`start` / :meth:`stop`.
    """

    name = "geth"
    log_name = "geth.log"
    stop_timeout = 20.0

    def __init__(
        self,
        *,
        pruned: bool = False,
        automine: bool = False,
        genesis: dict[str, Any] | None = None,
        datadir: Path | None = None,
        chain_id: int | None = None,
        extra_args: Sequence[str] = (),
        ready_timeout: float = READY_TIMEOUT,
    ) -> None:
        if datadir is not None and genesis is not None:
            raise ValueError("give a genesis (a new dev chain) or a datadir (a chain), not both")
        super().__init__(chain_id if chain_id is not None else CHAIN_ID, ready_timeout)
        self.pruned = pruned
        self.automine = automine
        self.genesis = genesis
        self.existing_datadir = Path(datadir) if datadir is not None else None
        self.extra_args = list(extra_args)

    @property
    def datadir(self) -> Path:
        if self.existing_datadir is not None:
            return self.existing_datadir
        if self.workdir is None:
            raise RuntimeError("geth is not started")
        return self.workdir / "data"

    @property
    def dev(self) -> bool:
        """Whether this is a --dev chain of ours (not a given datadir)."""
        return self.existing_datadir is None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Geth:
        """Initialise a datadir and start geth; return once it answers (or raise with its log)."""
        if self.process is not None:
            raise RuntimeError(f"geth is already running at {self.url}")
        binary = ensure_geth()
        genesis: dict[str, Any] | None = None
        if self.dev:
            genesis = self.genesis if self.genesis is not None else dev_genesis(binary)
            self.chain_id = int(genesis["config"]["chainId"])
        self._retrying(lambda: self._spawn(binary, genesis))
        return self

    def _scheme_args(self) -> list[str]:
        if self.pruned:
            return ["--state.scheme", "path", "--gcmode", "full"]
        return ["--state.scheme", "hash", "--gcmode", "archive"]

    def _spawn(self, binary: Path, genesis: dict[str, Any] | None) -> None:
        workdir = Path(tempfile.mkdtemp(prefix="rosetta-geth-"))
        datadir = self.existing_datadir or workdir / "data"
        if genesis is not None:
            self._init(binary, workdir, datadir, genesis)
        port = free_port()
        mode = ["--dev", "--dev.period", "0" if self.automine else str(_NEVER)] if self.dev else []
        # admin_importChain adds blocks to a served chain (a conformance run's sentinel).
        apis = "eth,net,web3,debug,txpool" + (",dev,testing" if self.dev else ",admin")
        args = [
            str(binary),
            *mode,
            *self._scheme_args(),
            *loopback_args(datadir, port, free_port(), apis),
            *self.extra_args,
        ]
        self._launch(args, workdir, port)

    def _init(self, binary: Path, workdir: Path, datadir: Path, genesis: dict[str, Any]) -> None:
        init_datadir(binary, workdir, datadir, genesis, self._scheme_args()[:2])

    def _ready(self) -> bool:
        if not super()._ready():
            return False
        # Serving a chain it imported, geth indexes its transactions after it starts and
        # answers receipt lookups "transaction indexing is in progress" meanwhile; eth_syncing
        # says when that is done. (A fresh dev chain says "1 block left" until its next block.)
        if not self.dev and self.rpc("eth_syncing") is not False:
            return False
        # On-demand mining: wait for the simulated beacon's one start-up block, so that it
        # cannot race the first block we commit.
        return self.automine or not self.dev or int(self.rpc("eth_blockNumber"), 16) >= 1

    def mine(
        self,
        transactions: Sequence[str] | None = None,
        *,
        withdrawals: Sequence[dict[str, Any]] = (),
        fee_recipient: str = DEVELOPER_ADDRESS,
    ) -> str:
        """Seal the next block (see :func:`commit_block`); only with ``automine=False``."""
        if self.automine or not self.dev:
            raise RuntimeError("mine() is for on-demand mining (Geth(automine=False))")
        return commit_block(
            self.rpc, transactions, withdrawals=withdrawals, fee_recipient=fee_recipient
        )

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        kind = "pruned" if self.pruned else "archive"
        return f"Geth({self.url or 'not started'}, chain_id={self.chain_id}, {kind}, {state})"
