"""A deterministic on-chain workload that drives every balance-changing path on a devnet node.

It runs against anvil or a geth ``--dev`` node (:mod:`tests.support.geth`; which one, it asks
``web3_clientVersion``) and talks raw JSON-RPC (``requests``). Every transaction is signed
locally (``eth_account``) and sent with ``eth_sendRawTransaction``: from anvil's ten dev keys
(geth's dev genesis funds the same keys) and from fresh keys derived from the seed and funded by
transfers. It never uses ``anvil_setBalance`` or other balance cheats: every balance change comes
from a mined transaction (or, on geth, a withdrawal), so Rosetta reconciliation over the
resulting blocks must hold exactly.

Paths covered (category names as in :attr:`WorkloadResult.tx_hashes`): ETH transfers between
many accounts (``eth_transfer``, ``fresh_sender``), fee types (``eip1559``, ``legacy``, ``blob``;
every tx is one of the three), value through nested internal calls (``internal``,
``nested_forward``), reverted transactions that tried to move value (``reverted``), a failed
inner call inside a successful transaction (``reverted_inner``), CREATE and CREATE2 with value
(``create``, ``create2``), SELFDESTRUCT (``selfdestruct``), ERC-20 mint/transfer/approve/
transferFrom/burn (``erc20_*``), transfers to self (``self_transfer``), one-tx fan-out
(``many_accounts``), blob transactions with their sidecars (``blob``: the blob fee is burnt) and
blocks with several transactions (``multi_tx_block``). Block-level categories
(:attr:`WorkloadResult.block_categories`, block numbers): ``empty_block`` and, on geth only,
``withdrawal`` (consensus-layer withdrawals to workload accounts; anvil has none).

How blocks are made. anvil: automine, except that several transactions go into one block with
``evm_setAutomine`` off and ``evm_mine``; empty blocks by ``anvil_mine``. geth: the node runs
with on-demand mining (``Geth(automine=False)``) and every block is sealed here by
``testing_commitBlockV1`` (:func:`tests.support.geth.commit_block`): after the transactions of
the block are pending in geth's pool (``txpool_status``), it seals the pool's pending
transactions, or none (an empty block), with the withdrawals of the block, the fee recipient
being geth's developer account (which also sends transactions here, so rosetta-cli sees it).

Usage: ``python -m tests.workload --rpc-url URL [--min-blocks N] [--token-list-out FILE]
[--result-out FILE.json]``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import functools
import hashlib
import json
import random
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ckzg
import rlp
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_account.typed_transactions.base import TRUSTED_SETUP
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address

from tests.support.artifacts import artifact
from tests.support.geth import DEVELOPER_KEY, commit_block, dev_keys, is_geth
from tests.support.rpc import JsonRpc, JsonRpcError

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
GWEI = 10**9
ETHER = 10**18
FRESH_ACCOUNTS = 12
RECEIPT_TIMEOUT = 30.0
POOL_TIMEOUT = 10.0
BLOB_SIZE = 4096 * 32
BLOB_POOL = 3  # distinct blobs the workload's blob transactions carry

# Categories every run must produce; run_workload checks this before returning.
REQUIRED_CATEGORIES = (
    "reverted",
    "eip1559",
    "legacy",
    "blob",
    "create",
    "create2",
    "selfdestruct",
    "internal",
    "nested_forward",
    "erc20_mint",
    "erc20_burn",
    "erc20_transfer",
    "erc20_approve",
    "erc20_transfer_from",
    "self_transfer",
    "many_accounts",
    "reverted_inner",
    "eth_transfer",
    "fresh_sender",
    "multi_tx_block",
)
# Block-level categories, per node kind.
REQUIRED_BLOCK_CATEGORIES = {"anvil": ("empty_block",), "geth": ("empty_block", "withdrawal")}


@dataclass
class Token:
    address: str  # checksummed
    name: str
    symbol: str
    decimals: int


@dataclass
class WorkloadResult:
    first_block: int  # first block the workload created
    last_block: int  # head when it finished
    # Every EOA and contract address the workload touched, checksummed, sorted; includes the
    # fee recipient of every block (anvil's coinbase, geth's developer account), the recipients
    # of withdrawals, and the 0x0 mint/burn counterparty of ERC-20 logs.
    accounts: list[str]
    tokens: list[Token]
    contracts: dict[str, str]  # role -> address
    tx_hashes: dict[str, list[str]] = field(default_factory=dict)  # category -> tx hashes
    # Block-level categories ("empty_block", "withdrawal") -> block numbers.
    block_categories: dict[str, list[int]] = field(default_factory=dict)
    node: str = "anvil"  # "anvil" or "geth"
    chain_id: int = 31337


class WorkloadError(RuntimeError):
    """The chain did not behave as the workload expects (wrong status, missing receipt, ...)."""


class WorkloadRpc(JsonRpc):
    """The shared JSON-RPC client, with a node's error answer raised as a WorkloadError."""

    def call(self, method: str, params: Sequence[Any] = (), timeout: float | None = None) -> Any:
        try:
            return super().call(method, params, timeout)
        except JsonRpcError as exc:
            raise WorkloadError(f"{method}{tuple(params)!r} failed: {exc.error}") from None


def _load_artifact(name: str) -> dict[str, Any]:
    try:
        return artifact(name)
    except FileNotFoundError as exc:
        raise WorkloadError(str(exc)) from None


def _calldata(signature: str, types: Sequence[str] = (), args: Sequence[Any] = ()) -> str:
    return "0x" + (function_signature_to_4byte_selector(signature) + abi_encode(types, args)).hex()


def _checksum(addr: str) -> str:
    return to_checksum_address(addr)


def fresh_key(seed: int, index: int) -> str:
    """A private key derived from the seed: the workload's fresh senders (funded by transfers)."""
    digest = keccak(
        b"rosetta-node workload key" + seed.to_bytes(8, "big") + index.to_bytes(4, "big")
    )
    return "0x" + digest.hex()


@functools.cache
def _blob(seed: int, index: int) -> bytes:
    # 4096 field elements, each below the BLS modulus (a zero top byte guarantees it).
    rng = random.Random(f"blob {seed} {index}")
    return b"".join(b"\x00" + rng.randbytes(31) for _ in range(BLOB_SIZE // 32))


@functools.cache
def _kzg_setup() -> Any:
    # Loaded once (about 2 s): eth_account loads it three times per blob it signs.
    return ckzg.load_trusted_setup(TRUSTED_SETUP, 0)


@functools.cache
def _blob_commitment(blob: bytes) -> tuple[bytes, bytes, tuple[bytes, ...]]:
    # About 0.3 s a blob: the workload reuses a few blobs (several txs may carry one blob).
    setup = _kzg_setup()
    commitment = bytes(ckzg.blob_to_kzg_commitment(blob, setup))
    _cells, cell_proofs = ckzg.compute_cells_and_kzg_proofs(blob, setup)
    versioned_hash = b"\x01" + hashlib.sha256(commitment).digest()[1:]
    return versioned_hash, commitment, tuple(bytes(p) for p in cell_proofs)


def blob_sidecar(blobs: Sequence[bytes]) -> tuple[list[bytes], list[bytes], list[bytes]]:
    """(versioned hashes, commitments, cell proofs) of ``blobs`` (EIP-4844, EIP-7594)."""
    parts = [_blob_commitment(b) for b in blobs]
    return [h for h, _, _ in parts], [c for _, c, _ in parts], [p for *_, ps in parts for p in ps]


def blob_network_form(
    signed_raw: bytes, blobs: Sequence[bytes], commitments: Sequence[bytes], proofs: Sequence[bytes]
) -> bytes:
    """The pooled (network) form of a signed blob tx: ``0x03 || rlp([tx_payload_body, 1, blobs,
    commitments, cell_proofs])``, the version-1 sidecar of EIP-7594.

    geth 1.17 with Osaka active wants this form (it still converts a version-0 sidecar, with
    one blob proof per blob, to cell proofs, marked for removal); anvil 1.7.1 takes it too.
    """
    body = rlp.decode(signed_raw[1:])
    return b"\x03" + rlp.encode([body, 1, list(blobs), list(commitments), list(proofs)])


def wait_receipt(rpc: Callable[..., Any], tx_hash: str) -> dict[str, Any]:
    """The receipt of ``tx_hash``: eth_sendTransaction can answer before the block exists,
    so poll (``rpc(method, *params)`` answers one JSON-RPC call). A geth that has just started
    answers "transaction indexing is in progress" for a while: not yet, too."""
    deadline = time.monotonic() + RECEIPT_TIMEOUT
    delay = 0.001
    while True:
        try:
            receipt = rpc("eth_getTransactionReceipt", tx_hash)
        except WorkloadError as exc:
            if "indexing is in progress" not in str(exc):
                raise
            receipt = None
        if receipt is not None:
            return dict(receipt)
        if time.monotonic() > deadline:
            raise WorkloadError(f"no receipt for {tx_hash} after {RECEIPT_TIMEOUT:.0f} s")
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


class _Workload:
    def __init__(self, rpc_url: str, seed: int, token_decimals: tuple[int, ...]) -> None:
        self.rpc = WorkloadRpc(rpc_url)
        self.rng = random.Random(seed)
        self.seed = seed
        self.token_decimals = token_decimals
        self.node = "geth" if is_geth(self.rpc("web3_clientVersion")) else "anvil"
        self.chain_id = int(self.rpc("eth_chainId"), 16)
        self.tx_hashes: dict[str, list[str]] = {}
        self.block_categories: dict[str, list[int]] = {}
        self.touched: set[str] = set()
        self.contracts: dict[str, str] = {}
        self.tokens: list[Token] = []
        self.token_balances: dict[tuple[str, str], int] = {}  # (token, holder) -> amount
        self.allowances: dict[tuple[str, str, str], int] = {}  # (token, owner, spender)
        self.keys: dict[str, LocalAccount] = {}  # address -> its key
        self.nonces: dict[str, int] = {}  # address -> next nonce
        self._fee_toggle = 0
        self._withdrawal_index = 0
        # While batching (one block, several txs), sent txs wait here for the mined block.
        self._pending: list[tuple[str, tuple[str, ...], int, int]] | None = None

    @property
    def geth(self) -> bool:
        return self.node == "geth"

    def add_key(self, key: str) -> str:
        account = Account.from_key(key)
        address = _checksum(account.address)
        self.keys[address] = account
        return address

    # -- sending -----------------------------------------------------------------------------

    def _fees(self) -> tuple[dict[str, Any], int]:
        # Alternate fee types so both are spread over the whole run. Priority fee and gas price
        # sit well above the base fee (1 gwei at genesis, falling), so the miner always earns.
        self._fee_toggle ^= 1
        if self._fee_toggle:
            tip = self.rng.randint(1, 3) * GWEI
            return {"maxFeePerGas": 50 * GWEI, "maxPriorityFeePerGas": tip}, 2
        return {"gasPrice": self.rng.randint(2, 20) * GWEI}, 0

    def _nonce(self, sender: str) -> int:
        if sender not in self.nonces:
            self.nonces[sender] = int(self.rpc("eth_getTransactionCount", sender, "pending"), 16)
        return self.nonces[sender]

    def send(
        self,
        sender: str,
        to: str | None,
        *categories: str,
        value: int = 0,
        data: str | None = None,
        gas: int | None = None,
        blobs: int = 0,
    ) -> str:
        """Sign and send one transaction and (unless batching) mine it and check its receipt.

        The category "reverted" means the receipt status must be 0; every other tx must succeed.
        ``blobs`` > 0 makes it a blob transaction (type 3) carrying that many blobs.
        """
        tx: dict[str, Any] = {"chainId": self.chain_id, "value": value, "data": data or "0x"}
        if to is not None:
            tx["to"] = _checksum(to)
            self.touched.add(_checksum(to))
        if gas is None:
            if self._pending is not None:
                raise WorkloadError("batched transactions need an explicit gas limit")
            estimate = {k: v for k, v in tx.items() if k in ("to", "data")}
            estimate.update({"from": sender, "value": hex(value)})
            gas = int(self.rpc("eth_estimateGas", estimate), 16)
        tx["gas"] = gas
        blob_data: list[bytes] = []
        if blobs:
            if to is None:
                raise WorkloadError("a blob transaction needs a recipient")
            tip = self.rng.randint(1, 3) * GWEI
            tx.update(
                type=3, maxFeePerGas=50 * GWEI, maxPriorityFeePerGas=tip, maxFeePerBlobGas=10 * GWEI
            )
            first = self.rng.randrange(BLOB_POOL)
            blob_data = [_blob(self.seed, (first + i) % BLOB_POOL) for i in range(blobs)]
            hashes, commitments, proofs = blob_sidecar(blob_data)
            tx["blobVersionedHashes"] = hashes
            tx_type, fee_cat = 3, "blob"
        else:
            fees, tx_type = self._fees()
            tx.update(fees)
            fee_cat = "eip1559" if tx_type == 2 else "legacy"
        sender = _checksum(sender)
        tx["nonce"] = self._nonce(sender)
        signed = self.keys[sender].sign_transaction(tx)
        raw = bytes(signed.raw_transaction)
        if blob_data:
            raw = blob_network_form(raw, blob_data, commitments, proofs)
        self.touched.add(sender)
        cats = (*categories, fee_cat)
        expected = 0 if "reverted" in categories else 1
        tx_hash: str = self.rpc("eth_sendRawTransaction", "0x" + raw.hex())
        if tx_hash.lower() != "0x" + bytes(signed.hash).hex():
            raise WorkloadError(f"node answered hash {tx_hash} for tx 0x{bytes(signed.hash).hex()}")
        self.nonces[sender] += 1
        for cat in cats:
            self.tx_hashes.setdefault(cat, []).append(tx_hash)
        if self._pending is not None:
            self._pending.append((tx_hash, cats, expected, tx_type))
        else:
            if self.geth:
                self._seal(1)
            self._check(tx_hash, self._receipt(tx_hash), cats, expected, tx_type)
        return tx_hash

    def _seal(self, pending: int | None, withdrawals: Sequence[tuple[str, int]] = ()) -> int:
        """geth: seal the next block from the pool (``pending`` transactions, all of them;
        None: an empty block) with ``withdrawals`` ((address, gwei)); return its number."""
        deadline = time.monotonic() + POOL_TIMEOUT
        want = pending or 0
        # The pool takes a moment to promote what was sent (and to drop what the last block
        # included): seal only once it holds exactly this block's transactions.
        while True:
            status = self.rpc("txpool_status")
            counts = (int(status["pending"], 16), int(status["queued"], 16))
            if counts == (want, 0):
                break
            if time.monotonic() > deadline:
                raise WorkloadError(f"geth's pool holds {counts} txs, expected ({want}, 0)")
            time.sleep(0.002)
        entries = []
        for address, gwei in withdrawals:
            entries.append(
                {
                    "index": hex(self._withdrawal_index),
                    "validatorIndex": hex(1000 + self._withdrawal_index),
                    "address": address,
                    "amount": hex(gwei),
                }
            )
            self._withdrawal_index += 1
            self.touched.add(_checksum(address))
        block_hash = commit_block(self.rpc, None if pending else [], withdrawals=entries)
        number = int(self.rpc("eth_getBlockByHash", block_hash, False)["number"], 16)
        while int(self.rpc("txpool_status")["pending"], 16) and time.monotonic() < deadline:
            time.sleep(0.002)  # let the pool drop what the block included
        return number

    def _receipt(self, tx_hash: str) -> dict[str, Any]:
        return wait_receipt(self.rpc, tx_hash)

    def _check(
        self,
        tx_hash: str,
        receipt: dict[str, Any],
        cats: tuple[str, ...],
        expected: int,
        tx_type: int,
    ) -> None:
        status = int(receipt["status"], 16)
        if status != expected:
            raise WorkloadError(
                f"tx {tx_hash} {cats}: expected status {expected}, got {status} "
                f"(block {int(receipt['blockNumber'], 16)}, gasUsed {int(receipt['gasUsed'], 16)})"
            )
        if int(receipt["type"], 16) != tx_type:
            raise WorkloadError(
                f"tx {tx_hash} {cats}: expected type {tx_type}, got {receipt['type']}"
            )
        if tx_type == 3 and not int(receipt.get("blobGasUsed") or "0x0", 16):
            raise WorkloadError(f"blob tx {tx_hash}: no blobGasUsed in its receipt")
        moves_tokens = any(c.startswith("erc20_") and c != "erc20_approve" for c in cats)
        if (
            status == 1
            and moves_tokens
            and not any(log["topics"][0] == TRANSFER_TOPIC for log in receipt["logs"])
        ):
            raise WorkloadError(f"tx {tx_hash} {cats}: no Transfer log")
        for log in receipt["logs"]:
            self.touched.add(_checksum(log["address"]))

    @contextlib.contextmanager
    def one_block(self) -> Iterator[None]:
        """Send several transactions into a single block.

        anvil: automine off, then evm_mine. geth: the transactions wait in the pool, then one
        block seals them all.
        """
        if not self.geth:
            self.rpc("evm_setAutomine", False)
        self._pending = []
        try:
            yield
            # Sends above were sequential (a JSON-RPC batch would run them concurrently), so
            # the pool already holds them in order: mine them into one block.
            if self.geth:
                self._seal(len(self._pending))
            else:
                self.rpc("evm_mine")
        finally:
            pending, self._pending = self._pending, None
            if not self.geth:
                self.rpc("evm_setAutomine", True)
        blocks = set()
        for tx_hash, cats, expected, tx_type in pending:
            receipt = self._receipt(tx_hash)
            self._check(tx_hash, receipt, cats, expected, tx_type)
            blocks.add(receipt["blockNumber"])
            self.tx_hashes.setdefault("multi_tx_block", []).append(tx_hash)
        if len(pending) > 1 and len(blocks) != 1:
            raise WorkloadError(f"batched txs landed in several blocks: {sorted(blocks)}")

    def empty_blocks(self, count: int) -> None:
        if self.geth:
            numbers = [self._seal(None) for _ in range(count)]
        else:
            head = int(self.rpc("eth_blockNumber"), 16)
            self.rpc("anvil_mine", hex(count))
            numbers = list(range(head + 1, head + count + 1))
        self.block_categories.setdefault("empty_block", []).extend(numbers)

    def withdrawals(self, recipients: Sequence[tuple[str, int]], *senders: str) -> None:
        """geth: one block with these withdrawals ((address, gwei)) and a transfer from each
        of ``senders`` (a withdrawal and a transaction touching one account in one block)."""
        self._pending = []
        try:
            for sender in senders:
                self.send(sender, sender, "eth_transfer", "self_transfer", value=1, gas=21_000)
            number = self._seal(len(self._pending) or None, withdrawals=recipients)
        finally:
            pending, self._pending = self._pending, None
        for tx_hash, cats, expected, tx_type in pending:
            receipt = self._receipt(tx_hash)
            self._check(tx_hash, receipt, cats, expected, tx_type)
            if int(receipt["blockNumber"], 16) != number:
                raise WorkloadError(f"tx {tx_hash} is not in withdrawal block {number}")
        self.block_categories.setdefault("withdrawal", []).append(number)

    def deploy(
        self,
        sender: str,
        name: str,
        types: Sequence[str] = (),
        args: Sequence[Any] = (),
        *,
        value: int = 0,
        categories: Sequence[str] = (),
    ) -> str:
        data = _load_artifact(name)["bytecode"] + abi_encode(types, args).hex()
        tx_hash = self.send(sender, None, "deploy", *categories, data=data, value=value)
        address = _checksum(self._receipt(tx_hash)["contractAddress"])
        self.touched.add(address)
        return address

    # -- token helpers -----------------------------------------------------------------------

    def token_transfer(self, token: str, sender: str, to: str, amount: int, *cats: str) -> None:
        data = _calldata("transfer(address,uint256)", ["address", "uint256"], [to, amount])
        self.send(sender, token, "erc20_transfer", *cats, data=data, gas=120_000)
        self.token_balances[(token, sender)] -= amount
        self.token_balances[(token, to)] = self.token_balances.get((token, to), 0) + amount
        self.touched.add(_checksum(to))

    def holders(self, token: str) -> list[str]:
        return sorted(h for (t, h), bal in self.token_balances.items() if t == token and bal > 0)

    # -- the workload ------------------------------------------------------------------------

    def run(self, min_blocks: int) -> WorkloadResult:
        rpc, rng = self.rpc, self.rng
        start_head = int(rpc("eth_blockNumber"), 16)
        first_block = start_head + 1
        dev = [self.add_key(k) for k in dev_keys()]
        for addr in dev:
            if int(rpc("eth_getBalance", addr, "latest"), 16) < 1_000 * ETHER:
                raise WorkloadError(f"dev account {addr} is not funded: is this a dev chain?")
        fresh = [self.add_key(fresh_key(self.seed, i)) for i in range(FRESH_ACCOUNTS)]
        for addr in fresh:
            if int(rpc("eth_getTransactionCount", addr, "latest"), 16) != 0:
                raise WorkloadError(f"fresh address {addr} already used: rerun on a new chain")
        coinbase = self.add_key(DEVELOPER_KEY) if self.geth else None

        # 1. Fund the fresh addresses: half one tx per block, half in a single block.
        for i, addr in enumerate(fresh[:6]):
            self.send(dev[i], addr, "eth_transfer", value=(2 + i) * ETHER + rng.randint(1, 10**15))
        with self.one_block():
            for i, addr in enumerate(fresh[6:]):
                value = (2 + i) * ETHER + rng.randint(1, 10**15)
                self.send(dev[(i + 6) % 10], addr, "eth_transfer", value=value, gas=21_000)
        if coinbase is not None:
            # geth's fee recipient sends too (a FEE debit and its own tip credit in one block),
            # so rosetta-cli, which sees only accounts in operations, reconciles it.
            self.send(coinbase, fresh[11], "eth_transfer", value=ETHER + rng.randint(1, 10**9))

        # 2. Contracts. Destructible and one Child are CREATEd with value by a top-level tx.
        owner = dev[0]
        for i, decimals in enumerate(self.token_decimals):
            name, symbol = f"Test Token {i}", f"TT{i}"
            address = self.deploy(
                owner, "TestToken", ["string", "string", "uint8"], [name, symbol, decimals]
            )
            self.tokens.append(Token(address, name, symbol, decimals))
        fwd = [self.deploy(owner, "Forwarder") for _ in range(3)]
        self.contracts.update(forwarder=fwd[0], forwarder2=fwd[1], forwarder3=fwd[2])
        reverter = self.contracts["reverter"] = self.deploy(owner, "Reverter")
        factory = self.contracts["factory"] = self.deploy(owner, "Factory")
        destructible = self.contracts["destructible"] = self.deploy(
            dev[1], "Destructible", value=ETHER // 2, categories=("create",)
        )
        self.contracts["child_direct"] = self.deploy(
            fresh[0], "Child", value=ETHER // 10 + 7, categories=("create", "fresh_sender")
        )
        self.empty_blocks(2)

        # 3. Plain ETH transfers from fresh senders, and to self.
        for i, addr in enumerate(fresh):
            to = fresh[(i + 5) % len(fresh)] if i % 2 else dev[(i * 3) % 10]
            self.send(addr, to, "eth_transfer", "fresh_sender", value=rng.randint(1, ETHER // 5))
        self.send(dev[1], dev[1], "eth_transfer", "self_transfer", value=ETHER)
        self.send(fresh[2], fresh[2], "eth_transfer", "self_transfer", "fresh_sender", value=12345)

        # 4. Value through internal calls, nested three Forwarders deep.
        self.send(dev[2], fwd[0], "internal", data=self._forward(dev[7]), value=ETHER // 3)
        chain = _calldata(
            "forwardChain(address[],address)",
            ["address[]", "address"],
            [[fwd[1], fwd[2]], fresh[3]],
        )
        self.send(dev[2], fwd[0], "internal", "nested_forward", data=chain, value=ETHER // 4)
        chain = _calldata(
            "forwardChain(address[],address)",
            ["address[]", "address"],
            [[fwd[2], fwd[0], fwd[1]], dev[8]],
        )
        self.send(
            fresh[4],
            fwd[1],
            "internal",
            "nested_forward",
            "fresh_sender",
            data=chain,
            value=777_777,
        )
        self.empty_blocks(1)

        # 5. Reverted transactions that tried to move value (explicit gas: no estimate).
        self.send(dev[3], reverter, "reverted", value=ETHER, gas=100_000)
        then_revert = _calldata("forwardThenRevert(address)", ["address"], [dev[4]])
        self.send(dev[3], fwd[0], "reverted", data=then_revert, value=ETHER // 2, gas=200_000)
        self.send(dev[5], fwd[1], "reverted", data=self._forward(reverter), value=3, gas=200_000)
        self.send(fresh[5], reverter, "reverted", "fresh_sender", value=10**15, gas=60_000)

        # 6. A failed inner value transfer inside a successful transaction (value stays put).
        try_fwd = _calldata("tryForward(address)", ["address"], [reverter])
        self.send(dev[4], fwd[2], "reverted_inner", data=try_fwd, value=ETHER // 5)
        chain = _calldata(
            "forwardChain(address[],address)", ["address[]", "address"], [[fwd[0]], fwd[2]]
        )
        self.send(dev[4], fwd[1], "internal", "nested_forward", data=chain, value=10**16)

        # 7. One transaction paying many accounts (the remainder stays in the Forwarder).
        recipients = [*fresh[:6], dev[6], dev[7], dev[8], dev[9]]
        many = _calldata("forwardMany(address[])", ["address[]"], [recipients])
        self.send(dev[6], fwd[0], "many_accounts", "internal", data=many, value=ETHER + 9)
        for r in recipients:
            self.touched.add(r)

        # 8. CREATE and CREATE2 with value from a contract (internal create frames).
        self._factory_create(dev[5], factory, ETHER // 8, extra=5)
        self._factory_create2(dev[5], factory, ETHER // 9, salt=keccak(b"child-1"), extra=0)
        self._factory_create2(fresh[6], factory, 4242, salt=keccak(b"child-2"), extra=1)
        self.send(dev[9], self.contracts["child_create2_1"], "eth_transfer", value=10**12)

        # 9. SELFDESTRUCT sending the balance away (twice: post-Cancun the code survives).
        self.send(dev[7], destructible, "eth_transfer", value=ETHER // 4)
        destroy = _calldata("destroy(address)", ["address"], [fresh[7]])
        self.send(dev[7], destructible, "selfdestruct", "internal", data=destroy)
        self.touched.add(fresh[7])
        self.send(dev[8], fwd[2], "internal", data=self._forward(destructible), value=ETHER // 7)
        destroy = _calldata("destroy(address)", ["address"], [dev[9]])
        self.send(fresh[8], destructible, "selfdestruct", "internal", "fresh_sender", data=destroy)
        self.empty_blocks(3)

        # 10a. Blob transactions (type 3, each with its sidecar): the blob fee
        # (blobGasUsed * blobGasPrice) is burnt with the base fee. One reverts (fees still
        # paid), one calls a contract that forwards value, one shares a block with a transfer.
        self.send(dev[2], fresh[1], "eth_transfer", value=ETHER // 10, gas=21_000, blobs=1)
        self.send(fresh[3], dev[4], "eth_transfer", "fresh_sender", value=5, gas=21_000, blobs=2)
        self.send(dev[3], reverter, "reverted", value=12_345, gas=60_000, blobs=1)
        with self.one_block():
            forward = self._forward(fresh[10])
            self.send(
                fresh[9], fwd[0], "internal", data=forward, value=10**15, gas=100_000, blobs=1
            )
            self.send(dev[6], fresh[2], "eth_transfer", value=10**14, gas=21_000)
        self.touched.add(fresh[10])

        if self.geth:
            # 10b. Withdrawals (geth only: anvil has none), credited in gwei by no transaction:
            # to a dev account, to a contract (no code runs), to an address nothing else
            # touches; then two to one account in a block where it also sends a transaction.
            lone = _checksum(
                "0x" + keccak(b"rosetta-node withdrawal" + self.seed.to_bytes(8, "big"))[12:].hex()
            )
            self.withdrawals([(dev[5], 32 * GWEI + 7), (fwd[1], 1_000_000), (lone, 123_456_789)])
            self.withdrawals([(fresh[4], 2 * GWEI), (fresh[4], 5)], fresh[4])

        # 10. ERC-20: mint to many holders, transfers, approve + transferFrom, burn, self.
        holders = [*dev, *fresh]
        for token in self.tokens:
            unit = 10**token.decimals
            for h in rng.sample(holders, 6):
                amount = rng.randint(1_000, 100_000) * unit + rng.randint(0, unit - 1)
                data = _calldata("mint(address,uint256)", ["address", "uint256"], [h, amount])
                self.send(owner, token.address, "erc20_mint", data=data)
                self.token_balances[(token.address, h)] = (
                    self.token_balances.get((token.address, h), 0) + amount
                )
                self.touched.add(h)
        for token in self.tokens:
            addr = token.address
            src, dst = rng.choice(self.holders(addr)), rng.choice(holders)
            self.token_transfer(addr, src, dst, self.token_balances[(addr, src)] // 3)
            # approve + transferFrom by a third account, to a fourth.
            src = rng.choice(self.holders(addr))
            spender = rng.choice([h for h in holders if h != src])
            dst = rng.choice([h for h in holders if h not in (src, spender)])
            allowance = self.token_balances[(addr, src)] // 2
            approve = _calldata(
                "approve(address,uint256)", ["address", "uint256"], [spender, allowance]
            )
            self.send(src, addr, "erc20_approve", data=approve)
            self.allowances[(addr, src, spender)] = allowance
            self._transfer_from(addr, spender, src, dst, allowance // 2)
            # burn part of some holder's balance.
            src = rng.choice(self.holders(addr))
            burn_amount = self.token_balances[(addr, src)] // 4 + 1
            data = _calldata("burn(uint256)", ["uint256"], [burn_amount])
            self.send(src, addr, "erc20_burn", data=data)
            self.token_balances[(addr, src)] -= burn_amount
        tok = self.tokens[0].address
        src = self.holders(tok)[0]
        self.token_transfer(tok, src, src, self.token_balances[(tok, src)] // 2, "self_transfer")
        # A reverted token transfer (more than the balance): no Transfer log, fee still paid.
        data = _calldata(
            "transfer(address,uint256)",
            ["address", "uint256"],
            [dev[1], self.token_balances[(tok, src)] + 1],
        )
        self.send(src, tok, "reverted", data=data, gas=100_000)

        # 11. Blocks holding several transactions of different kinds (distinct senders).
        for _ in range(3):
            self._mixed_block(dev, fresh)

        # 12. Sweep what the Forwarders kept (remainders, failed tryForward value).
        for i, f in enumerate(fwd):
            sweep = _calldata("sweep(address)", ["address"], [fresh[9 + i]])
            self.send(dev[i], f, "internal", data=sweep)

        # 13. Filler: keep every kind of transfer coming until min_blocks new blocks exist.
        step = 0
        while int(rpc("eth_blockNumber"), 16) - start_head < min_blocks:
            self._filler_step(step, dev, fresh)
            step += 1

        last_block = int(rpc("eth_blockNumber"), 16)
        for number in {start_head, last_block}:
            miner = rpc("eth_getBlockByNumber", hex(number), False)["miner"]
            self.touched.add(_checksum(miner))
        self.touched.add(ZERO_ADDRESS)
        if coinbase is not None:
            self.touched.add(coinbase)
        missing = [c for c in REQUIRED_CATEGORIES if not self.tx_hashes.get(c)]
        missing += [
            c for c in REQUIRED_BLOCK_CATEGORIES[self.node] if not self.block_categories.get(c)
        ]
        if missing:
            raise WorkloadError(f"workload produced nothing for {missing}")
        return WorkloadResult(
            first_block=first_block,
            last_block=last_block,
            accounts=sorted(self.touched, key=str.lower),
            tokens=list(self.tokens),
            contracts=dict(self.contracts),
            tx_hashes={k: list(v) for k, v in sorted(self.tx_hashes.items())},
            block_categories={k: list(v) for k, v in sorted(self.block_categories.items())},
            node=self.node,
            chain_id=self.chain_id,
        )

    # -- building blocks ---------------------------------------------------------------------

    @staticmethod
    def _forward(to: str) -> str:
        return _calldata("forward(address)", ["address"], [to])

    def _factory_create(self, sender: str, factory: str, value: int, extra: int) -> None:
        data = _calldata("create(uint256)", ["uint256"], [value])
        tx_hash = self.send(sender, factory, "create", "internal", data=data, value=value + extra)
        n = sum(k.startswith("child_create_") for k in self.contracts) + 1
        self.contracts[f"child_create_{n}"] = self._created_child(tx_hash, factory)

    def _factory_create2(
        self, sender: str, factory: str, value: int, salt: bytes, extra: int
    ) -> None:
        data = _calldata("create2(bytes32,uint256)", ["bytes32", "uint256"], [salt, value])
        tx_hash = self.send(sender, factory, "create2", "internal", data=data, value=value + extra)
        child = self._created_child(tx_hash, factory)
        init_code = bytes.fromhex(_load_artifact("Child")["bytecode"][2:])
        expected = _checksum(
            "0x"
            + keccak(b"\xff" + bytes.fromhex(factory[2:]) + salt + keccak(init_code))[12:].hex()
        )
        if child != expected:
            raise WorkloadError(f"CREATE2 child at {child}, expected {expected}")
        n = sum(k.startswith("child_create2_") for k in self.contracts) + 1
        self.contracts[f"child_create2_{n}"] = child

    def _created_child(self, tx_hash: str, factory: str) -> str:
        # Factory emits Created(address child, uint256 value); read the child from the log.
        for log in self._receipt(tx_hash)["logs"]:
            if log["address"].lower() == factory.lower():
                child, _ = abi_decode(["address", "uint256"], bytes.fromhex(log["data"][2:]))
                address = _checksum(child)
                self.touched.add(address)
                return address
        raise WorkloadError(f"tx {tx_hash}: factory emitted no Created event")

    def _transfer_from(self, token: str, spender: str, owner: str, to: str, amount: int) -> None:
        data = _calldata(
            "transferFrom(address,address,uint256)",
            ["address", "address", "uint256"],
            [owner, to, amount],
        )
        self.send(spender, token, "erc20_transfer_from", data=data, gas=150_000)
        self.allowances[(token, owner, spender)] -= amount
        self.token_balances[(token, owner)] -= amount
        self.token_balances[(token, to)] = self.token_balances.get((token, to), 0) + amount
        self.touched.update({owner, to})

    def _mixed_block(self, dev: list[str], fresh: list[str]) -> None:
        rng = self.rng
        senders = rng.sample([*dev[1:], *fresh], 5)  # distinct, so nonces never interleave
        with self.one_block():
            for i, sender in enumerate(senders):
                kind = i % 4
                if kind == 0:
                    to = rng.choice([*dev, *fresh])
                    self.send(sender, to, "eth_transfer", value=rng.randint(1, 10**17), gas=21_000)
                elif kind == 1:
                    token = self._token_with_holder(sender)
                    if token is None:
                        self.send(sender, dev[0], "eth_transfer", value=1, gas=21_000)
                        continue
                    bal = self.token_balances[(token, sender)]
                    to = rng.choice([*dev, *fresh])
                    self.token_transfer(token, sender, to, rng.randint(1, bal))
                elif kind == 2:
                    fwd = self.contracts[rng.choice(["forwarder", "forwarder2", "forwarder3"])]
                    to = rng.choice(fresh)
                    value = rng.randint(1, 10**16)
                    data = self._forward(to)
                    self.send(sender, fwd, "internal", data=data, value=value, gas=100_000)
                    self.touched.add(to)
                else:
                    self.send(sender, self.contracts["reverter"], "reverted", value=1, gas=50_000)

    def _token_with_holder(self, holder: str) -> str | None:
        for token in self.tokens:
            if self.token_balances.get((token.address, holder), 0) > 0:
                return token.address
        return None

    def _filler_step(self, step: int, dev: list[str], fresh: list[str]) -> None:
        rng = self.rng
        everyone = [*dev, *fresh]
        if step % 40 == 39:
            self.empty_blocks(2)
            return
        if step % 50 == 29:
            sender, to = rng.choice(everyone), rng.choice(everyone)
            self.send(sender, to, "eth_transfer", value=rng.randint(1, 10**15), gas=21_000, blobs=1)
            return
        if step % 25 == 24:
            self._mixed_block(dev, fresh)
            return
        kind = step % 6
        if kind in (0, 3):
            sender, to = rng.choice(everyone), rng.choice(everyone)
            value = rng.randint(1, 10**16)
            extra = ("fresh_sender",) if sender in fresh else ()
            self.send(sender, to, "eth_transfer", *extra, value=value)
        elif kind in (1, 4):
            token = rng.choice(self.tokens).address
            holders = self.holders(token)
            sender, to = rng.choice(holders), rng.choice(everyone)
            self.token_transfer(
                token, sender, to, rng.randint(1, self.token_balances[(token, sender)])
            )
        elif kind == 2:
            fwd = [self.contracts[k] for k in ("forwarder", "forwarder2", "forwarder3")]
            rng.shuffle(fwd)
            chain = _calldata(
                "forwardChain(address[],address)",
                ["address[]", "address"],
                [fwd[1:], rng.choice(everyone)],
            )
            value = rng.randint(1, 10**15)
            self.send(
                rng.choice(dev), fwd[0], "internal", "nested_forward", data=chain, value=value
            )
        else:
            live = [(k, v) for k, v in self.allowances.items() if v > 0]
            if live:
                (token, owner, spender), allowed = live[step % len(live)]
                amount = min(allowed, self.token_balances[(token, owner)], rng.randint(1, allowed))
                if amount > 0:
                    self._transfer_from(token, spender, owner, rng.choice(everyone), amount)
                    return
            self.send(rng.choice(dev), rng.choice(fresh), "eth_transfer", value=rng.randint(1, 999))

    def close(self) -> None:
        self.rpc.close()


def run_workload(
    rpc_url: str,
    *,
    min_blocks: int = 220,
    seed: int = 7,
    token_decimals: tuple[int, ...] = (0, 6, 18, 8, 2),
) -> WorkloadResult:
    """Drive every balance-changing path on the node (anvil, or geth ``--dev`` mining on demand)
    at ``rpc_url`` over >= ``min_blocks`` blocks.

    Deterministic for a given seed on a fresh chain. Raises WorkloadError when a receipt does not
    have the status its category expects.
    """
    if not token_decimals:
        raise ValueError("token_decimals must name at least one token")
    workload = _Workload(rpc_url, seed, token_decimals)
    try:
        return workload.run(min_blocks)
    finally:
        workload.close()


def write_token_list(path: str | Path, tokens: list[Token], chain_id: int) -> None:
    """Write ``tokens`` as a Uniswap token list (https://tokenlists.org schema)."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    doc = {
        "name": "Rosetta Node Workload",
        "timestamp": now.isoformat().replace("+00:00", "Z"),
        "version": {"major": 1, "minor": 0, "patch": 0},
        "tokens": [
            {
                "chainId": chain_id,
                "address": _checksum(t.address),
                "name": t.name,
                "symbol": t.symbol,
                "decimals": t.decimals,
            }
            for t in tokens
        ],
    }
    Path(path).write_text(json.dumps(doc, indent=2) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.workload", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--rpc-url", required=True, help="anvil or geth --dev JSON-RPC URL")
    parser.add_argument("--min-blocks", type=int, default=220)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--token-list-out", type=Path, help="write a Uniswap token list here")
    parser.add_argument("--result-out", type=Path, help="write the WorkloadResult as JSON here")
    args = parser.parse_args(argv)

    started = time.monotonic()
    result = run_workload(args.rpc_url, min_blocks=args.min_blocks, seed=args.seed)
    elapsed = time.monotonic() - started
    if args.token_list_out:
        write_token_list(args.token_list_out, result.tokens, result.chain_id)
    if args.result_out:
        args.result_out.write_text(json.dumps(dataclasses.asdict(result), indent=2) + "\n")
    n_blocks = result.last_block - result.first_block + 1
    n_txs = len({h for hashes in result.tx_hashes.values() for h in hashes})
    print(
        f"workload ({result.node}): blocks {result.first_block}..{result.last_block} "
        f"({n_blocks} blocks), "
        f"{n_txs} txs, {len(result.accounts)} accounts, {len(result.tokens)} tokens "
        f"in {elapsed:.1f} s"
    )
    for cat, hashes in result.tx_hashes.items():
        print(f"  {cat:20} {len(hashes)}")
    for cat, blocks in result.block_categories.items():
        print(f"  {cat:20} {len(blocks)} blocks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
