"""SELFDESTRUCT under Cancun (EIP-6780) on a real chain: deploys and runs every case once.

A contract created and self-destructed in the same transaction is deleted at the end of that
transaction, so whatever it holds then is burnt: its own balance when it destroys to itself, and
any ETH that reaches it later in that transaction (a plain send, a nested call, another dead
child's SELFDESTRUCT). A contract created earlier only sends its balance (to itself: nothing
changes) and keeps its code. Inside a frame that reverts, nothing of that happens.

Portable: every transaction is signed locally (eth_account) and sent with
``eth_sendRawTransaction``; no anvil-only methods, so it runs on geth --dev as well. Each case is
one transaction, waited for before the next, so each lands in its own block on an automining
devnet (the checks are per block and hold either way).

Contracts: ``tests/contracts/src/SelfDestruct*.sol`` (artifacts in ``tests/contracts/build``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import rlp
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address

from tests.support.artifacts import artifact
from tests.workload import WorkloadError, WorkloadRpc, wait_receipt

GWEI = 10**9
ETHER = 10**18

# anvil's dev account 9 ("test test ... junk", index 9): the workload only sends a few txs from
# it, and never after it finished; used only to fund the fresh sender below.
ANVIL_DEV_KEY_9 = "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6"
# A key nobody else uses, so its nonces never clash with the workload or other tests.
FRESH_KEY = "0x" + keccak(b"rosetta-node selfdestruct cases").hex()
CREATED_TOPIC = "0x" + keccak(b"Created(address,uint256)").hex()
REVERTED_CHILD_TOPIC = "0x" + keccak(b"RevertedChild(address,uint256)").hex()
ZERO = "0x0000000000000000000000000000000000000000"
REVERTED_TX_GAS = 1_000_000  # a reverting tx cannot be estimated
# Every case run_cases records, in order (tests parametrize over these at collection time).
CASE_NAMES = (
    "create_destroy_self",
    "create_destroy_to",
    "factory_destroy_self",
    "factory_destroy_to",
    "factory_constructor_self",
    "factory_constructor_to",
    "destroy_into_dead",
    "old_destroy_self",
    "old_fund_destroy_self",
    "old_destroy_to",
    "old_fund_destroy_to",
    "reverted_frame_self",
    "reverted_frame_to",
    "reverted_tx_self",
    "reverted_tx_to",
)


@dataclass
class Case:
    """One transaction and what the chain must show for it (in its block, alone)."""

    name: str
    tx_hash: str
    block: int
    status: int  # expected receipt status
    value: int  # tx value
    groups: tuple[str, ...]  # e.g. "burn", "same_tx", "old", "reverted"
    deleted: list[str]  # no code and zero balance after the tx (deleted, or never created)
    kept: list[str]  # code still there after the tx
    deltas: dict[str, int]  # expected balance change of these accounts (not the sender)
    burnt: int  # wei that vanish beyond fees: value spent minus what the accounts above gained


@dataclass
class CaseRun:
    sender: str
    first_block: int
    last_block: int
    contracts: dict[str, str]  # role -> address
    beneficiaries: list[str]
    cases: list[Case]
    tx_hashes: dict[str, list[str]] = field(default_factory=dict)  # category -> tx hashes

    def case(self, name: str) -> Case:
        (found,) = [c for c in self.cases if c.name == name]
        return found

    def accounts(self) -> list[str]:
        """Every account a case involves besides the sender (contracts, children, beneficiaries)."""
        seen = set(self.contracts.values()) | set(self.beneficiaries)
        for case in self.cases:
            seen.update(case.deltas, case.deleted, case.kept)
        return sorted(seen)


def _load_artifact(name: str) -> dict[str, Any]:
    return artifact(name)


def _calldata(signature: str, types: Sequence[str] = (), args: Sequence[Any] = ()) -> str:
    return "0x" + (function_signature_to_4byte_selector(signature) + abi_encode(types, args)).hex()


def create_address(creator: str, nonce: int) -> str:
    """CREATE's address: keccak(rlp([creator, nonce]))[12:]."""
    digest = keccak(rlp.encode([bytes.fromhex(creator[2:]), nonce]))
    return to_checksum_address(digest[12:])


class _Sender:
    """Signs locally with one key and waits for each receipt (one tx in flight at a time)."""

    def __init__(self, rpc: WorkloadRpc, key: str) -> None:
        self.rpc = rpc
        self.key = key
        self.address = to_checksum_address(Account.from_key(key).address)
        self.chain_id = int(rpc("eth_chainId"), 16)
        self.nonce = int(rpc("eth_getTransactionCount", self.address, "pending"), 16)

    def _fees(self) -> dict[str, int]:
        base = self.rpc("eth_getBlockByNumber", "latest", False).get("baseFeePerGas")
        if base is None:  # pre-London chain: legacy pricing
            return {"gasPrice": int(self.rpc("eth_gasPrice"), 16)}
        tip = GWEI
        return {"maxFeePerGas": 2 * int(base, 16) + tip, "maxPriorityFeePerGas": tip}

    def send(
        self, to: str | None, *, value: int = 0, data: str = "0x", gas: int | None = None
    ) -> tuple[str, dict[str, Any]]:
        call: dict[str, Any] = {"from": self.address, "value": hex(value), "data": data}
        if to is not None:
            call["to"] = to
        if gas is None:
            # Margin over the estimate: nested calls need 64/64 of what they use up front.
            gas = int(self.rpc("eth_estimateGas", call), 16) * 3 // 2 + 20_000
        tx: dict[str, Any] = {
            "chainId": self.chain_id,
            "nonce": self.nonce,
            "value": value,
            "data": data,
            "gas": gas,
            **self._fees(),
        }
        if to is not None:
            tx["to"] = to
        signed = Account.sign_transaction(tx, self.key)
        tx_hash = self.rpc("eth_sendRawTransaction", "0x" + signed.raw_transaction.hex())
        self.nonce += 1
        return tx_hash, wait_receipt(self.rpc, tx_hash)


def fund(rpc_url: str, key: str, to: str, value: int) -> str:
    """Send ``value`` from ``key`` to ``to`` (e.g. a dev key funding the cases' sender)."""
    tx_hash, receipt = _Sender(WorkloadRpc(rpc_url), key).send(to, value=value, gas=21_000)
    if int(receipt["status"], 16) != 1:
        raise WorkloadError(f"funding tx {tx_hash} failed")
    return tx_hash


class _Cases:
    def __init__(self, rpc_url: str, key: str) -> None:
        self.rpc = WorkloadRpc(rpc_url)
        self.sender = _Sender(self.rpc, key)
        self.cases: list[Case] = []
        self.tx_hashes: dict[str, list[str]] = {}
        self.contracts: dict[str, str] = {}
        self.beneficiaries: list[str] = []
        # Per-run salt: a rerun on the same chain gets untouched beneficiaries.
        self.salt = self.sender.address.encode() + self.sender.nonce.to_bytes(8, "big")

    def beneficiary(self, label: str) -> str:
        address = to_checksum_address(
            keccak(b"selfdestruct beneficiary" + self.salt + label.encode())[12:]
        )
        self.beneficiaries.append(address)
        return address

    def balance(self, address: str) -> int:
        return int(self.rpc("eth_getBalance", address, "latest"), 16)

    def _send(
        self,
        category: str,
        to: str | None,
        *,
        value: int = 0,
        data: str = "0x",
        gas: int | None = None,
        status: int = 1,
    ) -> tuple[str, dict[str, Any]]:
        tx_hash, receipt = self.sender.send(to, value=value, data=data, gas=gas)
        got = int(receipt["status"], 16)
        if got != status:
            raise WorkloadError(f"{category} tx {tx_hash}: status {got}, expected {status}")
        self.tx_hashes.setdefault(category, []).append(tx_hash)
        return tx_hash, receipt

    def record(
        self,
        name: str,
        tx_hash: str,
        receipt: dict[str, Any],
        *,
        groups: tuple[str, ...],
        value: int,
        deleted: Sequence[str] = (),
        kept: Sequence[str] = (),
        deltas: dict[str, int],
        burnt: int,
    ) -> None:
        for group in groups:
            self.tx_hashes.setdefault(group, []).append(tx_hash)
        self.cases.append(
            Case(
                name=name,
                tx_hash=tx_hash,
                block=int(receipt["blockNumber"], 16),
                status=int(receipt["status"], 16),
                value=value,
                groups=groups,
                deleted=list(deleted),
                kept=list(kept),
                deltas=deltas,
                burnt=burnt,
            )
        )

    def deploy(self, role: str, name: str, *, value: int = 0) -> str:
        _, receipt = self._send("deploy", None, value=value, data=_load_artifact(name)["bytecode"])
        address = self.contracts[role] = to_checksum_address(receipt["contractAddress"])
        return address

    @staticmethod
    def logged(receipt: dict[str, Any], topic: str) -> list[str]:
        """Child addresses from Created / RevertedChild(address child, uint256 value) logs."""
        found: list[str] = []
        for log in receipt["logs"]:
            if log["topics"][0] == topic:
                child, _ = abi_decode(["address", "uint256"], bytes.fromhex(log["data"][2:]))
                found.append(to_checksum_address(child))
        return found

    # -- the cases ---------------------------------------------------------------------------

    def run(self) -> CaseRun:
        first_block = int(self.rpc("eth_blockNumber"), 16) + 1
        self.top_level_constructor()
        factory = self.deploy("factory", "SelfDestructFactory")
        self.factory_cases(factory)
        self.old_contract_cases()
        self.reverted_cases(factory)
        if tuple(c.name for c in self.cases) != CASE_NAMES:
            raise WorkloadError("CASE_NAMES is out of date")
        return CaseRun(
            sender=self.sender.address,
            first_block=first_block,
            last_block=int(self.rpc("eth_blockNumber"), 16),
            contracts=self.contracts,
            beneficiaries=self.beneficiaries,
            cases=self.cases,
            tx_hashes=self.tx_hashes,
        )

    def top_level_constructor(self) -> None:
        # (a) a top-level CREATE whose constructor destroys to itself: the value is burnt.
        v = ETHER // 10 + 101
        code = _load_artifact("SelfDestructSelfInConstructor")["bytecode"]
        tx_hash, receipt = self._send("create_destroy_self", None, value=v, data=code)
        created = to_checksum_address(receipt["contractAddress"])
        self.record(
            "create_destroy_self",
            tx_hash,
            receipt,
            groups=("same_tx", "burn"),
            value=v,
            deleted=[created],
            deltas={created: 0},
            burnt=v,
        )
        # (b) the same, destroyed to another address: the value moves, nothing is burnt.
        v = ETHER // 10 + 102
        to = self.beneficiary("create_destroy_to")
        code = _load_artifact("SelfDestructToInConstructor")["bytecode"]
        code += abi_encode(["address"], [to]).hex()
        tx_hash, receipt = self._send("create_destroy_to", None, value=v, data=code)
        created = to_checksum_address(receipt["contractAddress"])
        self.record(
            "create_destroy_to",
            tx_hash,
            receipt,
            groups=("same_tx",),
            value=v,
            deleted=[created],
            deltas={created: 0, to: v},
            burnt=0,
        )

    def factory_cases(self, factory: str) -> None:
        # (c) in one tx: child with v, destroyed (to itself or `to`), then `late` sent straight to
        # the dead child and `nested` through factory.relay: all of it burnt except what `to` got.
        args = ["address", "uint256", "uint256", "uint256"]
        # createSelfDestructing: the same, but the child destroys in its constructor (no code).
        for fn, prefix in (
            ("createDestroyAndFund", "factory_destroy"),
            ("createSelfDestructing", "factory_constructor"),
        ):
            for target in ("self", "to"):
                name = f"{prefix}_{target}"
                v, late, nested = ETHER // 20 + 11, ETHER // 50 + 13, ETHER // 100 + 17
                to = self.beneficiary(name) if target == "to" else ZERO
                data = _calldata(
                    f"{fn}(address,uint256,uint256,uint256)", args, [to, v, late, nested]
                )
                value = v + late + nested
                tx_hash, receipt = self._send(name, factory, value=value, data=data)
                (child,) = self.logged(receipt, CREATED_TOPIC)
                deltas = {factory: 0, child: 0}
                if target == "to":
                    deltas[to] = v
                self.record(
                    name,
                    tx_hash,
                    receipt,
                    groups=("same_tx", "late_funding", "burn"),
                    value=value,
                    deleted=[child],
                    kept=[factory],
                    deltas=deltas,
                    burnt=value - (v if target == "to" else 0),
                )
        # Child A destroyed into child B, which destroyed itself earlier in the tx: both burnt.
        va, vb = ETHER // 40 + 19, ETHER // 80 + 23
        data = _calldata("destroyIntoDead(uint256,uint256)", ["uint256", "uint256"], [va, vb])
        tx_hash, receipt = self._send("destroy_into_dead", factory, value=va + vb, data=data)
        a, b = self.logged(receipt, CREATED_TOPIC)
        self.record(
            "destroy_into_dead",
            tx_hash,
            receipt,
            groups=("same_tx", "burn"),
            value=va + vb,
            deleted=[a, b],
            kept=[factory],
            deltas={factory: 0, a: 0, b: 0},
            burnt=va + vb,
        )

    def old_contract_cases(self) -> None:
        # (d) created in an earlier tx: SELFDESTRUCT only sends the balance, the code stays.
        # To itself it changes nothing, and revm-based tracers (anvil, reth) then emit a bogus
        # SELFDESTRUCT frame: from 0x0 with no to/value, or a copy of an earlier transfer of the
        # tx (bluealloy/revm#3834); geth reports (old, old, balance).
        start = ETHER // 2 + 29
        old = self.deploy("old", "SelfDestructOld", value=start)
        destroy = "destroy(address)"
        fund_destroy = "fundAndDestroy(address)"
        to_a, to_b = self.beneficiary("old_destroy_to"), self.beneficiary("old_fund_destroy_to")
        x, y = ETHER // 30 + 31, ETHER // 60 + 37
        steps: list[tuple[str, str, str, int]] = [
            ("old_destroy_self", destroy, old, 0),
            ("old_fund_destroy_self", fund_destroy, old, x),
            ("old_destroy_to", destroy, to_a, 0),
            ("old_fund_destroy_to", fund_destroy, to_b, y),
        ]
        for name, signature, to, value in steps:
            held = self.balance(old)
            data = _calldata(signature, ["address"], [to])
            tx_hash, receipt = self._send(name, old, value=value, data=data)
            # To itself the balance stays (plus what came with the call); else all of it moves.
            deltas = {old: value} if to == old else {old: -held, to: held + value}
            self.record(
                name,
                tx_hash,
                receipt,
                groups=("old",),
                value=value,
                kept=[old],
                deltas=deltas,
                burnt=0,
            )

    def reverted_cases(self, factory: str) -> None:
        # (e) created and destroyed inside a frame that reverts: nothing burnt, nothing moved.
        for target in ("self", "to"):
            name = f"reverted_frame_{target}"
            v = ETHER // 25 + 41
            to = self.beneficiary(name) if target == "to" else ZERO
            data = _calldata("createDestroyInRevertedFrame(address)", ["address"], [to])
            tx_hash, receipt = self._send(name, factory, value=v, data=data)
            (child,) = self.logged(receipt, REVERTED_CHILD_TOPIC)
            # The factory keeps msg.value.
            self._record_reverted(name, tx_hash, receipt, v, factory, child, to, kept_value=v)
        # The whole tx reverts (status 0): the value never leaves the sender.
        for target in ("self", "to"):
            name = f"reverted_tx_{target}"
            v = ETHER // 35 + 43
            to = self.beneficiary(name) if target == "to" else ZERO
            # The child would be CREATEd at the factory's current nonce; no log survives a revert.
            child = create_address(
                factory, int(self.rpc("eth_getTransactionCount", factory, "latest"), 16)
            )
            data = _calldata("createDestroyThenRevert(address)", ["address"], [to])
            tx_hash, receipt = self._send(
                name, factory, value=v, data=data, gas=REVERTED_TX_GAS, status=0
            )
            self._record_reverted(name, tx_hash, receipt, v, factory, child, to, kept_value=0)

    def _record_reverted(
        self,
        name: str,
        tx_hash: str,
        receipt: dict[str, Any],
        value: int,
        factory: str,
        child: str,
        to: str,
        kept_value: int,
    ) -> None:
        deltas = {factory: kept_value, child: 0}
        if to != ZERO:
            deltas[to] = 0
        self.record(
            name,
            tx_hash,
            receipt,
            groups=("reverted",),
            value=value,
            deleted=[child],
            kept=[factory],
            deltas=deltas,
            burnt=0,
        )


def run_cases(rpc_url: str, key: str) -> CaseRun:
    """Deploy and run every case, sending from ``key`` (which must hold ~2 ETH)."""
    return _Cases(rpc_url, key).run()


def run_selfdestruct_cases(rpc_url: str, key: str) -> dict[str, list[str]]:
    """Deploy and run every case; category -> tx hashes (case names and groups)."""
    return run_cases(rpc_url, key).tx_hashes
