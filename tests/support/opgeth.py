"""A private op-geth (OP Stack execution client) for tests, driven the way op-node drives it.

op-geth is the pinned one (:func:`tests.support.gotools.ensure_opgeth`, from
``conformance/opgeth``). It runs on a temp datadir initialised from our own OP genesis
(:func:`op_genesis`): chain id :data:`CHAIN_ID`, every L1 fork through Prague and every OP fork
through Isthmus active at genesis (Delta has no execution-layer switch), Jovian at the time the
caller gives (:meth:`OpGeth.cross_jovian` makes the chain reach it), no blob schedule (op-geth
refuses one on an OP chain), Holocene EIP-1559 parameters in the genesis ``extraData``, and in
``alloc``:

- the precompiles and the EIP-4788 / EIP-2935 system contracts of ``op-geth --dev dumpgenesis``;
- anvil's ten dev keys with :data:`DEV_BALANCE` each (the same accounts as on anvil and geth);
- the predeploys the fee rules touch, as small stand-ins of our own (not the OP contracts):
  the L1Block contract (:data:`L1_BLOCK`, code :func:`l1_block_code`) stores the L1-attributes
  calldata (``setL1BlockValues{Ecotone,Isthmus,Jovian}``) in the storage slots the
  real contract uses, which are what op-geth reads to charge the L1 and operator fees; only the
  depositor account may call it (anything else reverts: a handy failing deposit). The fee vaults
  (sequencer, base fee, L1 fee, operator fee) and the L2ToL1MessagePasser (whose storage root is
  an Isthmus header's ``withdrawalsRoot``) get code that accepts anything and stops.

Blocks. There is no op-node and no L1: :meth:`OpGeth.mine` does what op-node's sequencer does,
through the authenticated engine API (a JWT secret file of ours, HS256 tokens made with the
standard library): ``engine_forkchoiceUpdatedV3`` with payload attributes carrying the
L1-attributes deposit (:mod:`tests.support.op_l1info`, in the block's fork's format) first,
then the caller's user deposits (:class:`Deposit`, type 0x7e), ``noTxPool: false`` (so what
``eth_sendRawTransaction`` put in the pool is included), the gas limit, the Holocene
``eip1559Params`` and, from Jovian, ``minBaseFee``; then
``engine_getPayloadV4`` / ``engine_newPayloadV4`` (Prague payloads) and a second
``engine_forkchoiceUpdatedV3`` that makes the new block head, safe and finalized.
Each block gets its own made-up L1 origin (:class:`L1Origin`), sequence number 0.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import secrets
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eth_utils import keccak

from rosetta_node.devnet import LocalNode, RpcError, free_port
from tests.support.geth import (
    DEV_BALANCE,
    dev_addresses,
    dump_dev_genesis,
    init_datadir,
    loopback_args,
)
from tests.support.gotools import ensure_opgeth
from tests.support.op_l1info import (
    BASE_FEE_VAULT,
    DEPOSITOR,
    ECOTONE_SELECTOR,
    ISTHMUS,
    ISTHMUS_SELECTOR,
    JOVIAN,
    JOVIAN_SELECTOR,
    L1_BLOCK,
    L1_FEE_VAULT,
    L2_TO_L1_MESSAGE_PASSER,
    OPERATOR_FEE_VAULT,
    SEQUENCER_FEE_VAULT,
    Deposit,
    L1Origin,
    l1_info_deposit,
    source_hash,
)

__all__ = [  # what tests import from here
    "BASE_FEE_VAULT",
    "DEPOSITOR",
    "L1_BLOCK",
    "L1_FEE_VAULT",
    "OPERATOR_FEE_VAULT",
    "SEQUENCER_FEE_VAULT",
    "Deposit",
    "L1Origin",
    "JOVIAN_IN",
    "OpGeth",
    "op_genesis",
]

CHAIN_ID = 901  # the OP devnet's chain id in the Optimism monorepo
READY_TIMEOUT = 60.0
GAS_LIMIT = 60_000_000
GENESIS_BASE_FEE = 10**9
# Jovian this long after genesis: far enough for what a workload mines before crossing it.
JOVIAN_IN = 600
MIN_BASE_FEE = 10**8  # Jovian's minimum base fee, in the payload attributes
# EIP-1559 on the OP chain: OP mainnet's elasticity and (Canyon) denominator.
EIP1559_ELASTICITY = 6
EIP1559_DENOMINATOR = 50
EIP1559_DENOMINATOR_CANYON = 250

# Beacon roots and block hash history contracts: the other system accounts of our alloc.
_SYSTEM_CONTRACTS = {
    "0x000f3df6d732807ef1319fb7b8bb8522d0beac02",  # EIP-4788 (Ecotone)
    "0x0000f90827f1c53a10cb7a02335b175320002935",  # EIP-2935 (Isthmus)
}
_ZERO_HASH = "0x" + "00" * 32
_EIP1967_ADMIN_SLOT = "0xb53127684a568b3173ae13b9f8a6016e243e63b6e8ee1178d6a717850b5d6103"
_PROXY_ADMIN = "0x" + "00" * 12 + "4200000000000000000000000000000000000018"


# -- genesis ----------------------------------------------------------------------------------


def _assemble(program: Sequence[str | int | bytes]) -> bytes:
    """A tiny EVM assembler: opcode names, ``bytes`` (pushed with the matching PUSHn), labels
    (``":name"`` marks, ``"@name"`` pushes with PUSH1)."""
    opcodes = {
        "STOP": 0x00, "LT": 0x10, "EQ": 0x14, "AND": 0x16, "OR": 0x17, "SHR": 0x1C,
        "CALLER": 0x33, "CALLDATALOAD": 0x35, "CALLDATASIZE": 0x36, "SSTORE": 0x55,
        "JUMPI": 0x57, "JUMPDEST": 0x5B, "PUSH0": 0x5F, "DUP1": 0x80, "DUP2": 0x81,
        "SWAP1": 0x90,
        "REVERT": 0xFD,
    }  # fmt: skip
    labels: dict[str, int] = {}
    for pass_ in range(2):
        code = bytearray()
        for item in program:
            if isinstance(item, bytes):
                code += bytes([0x5F + len(item)]) + item
            elif isinstance(item, int):
                code += bytes([0x60, item])
            elif item.startswith(":"):
                labels[item[1:]] = len(code)
                code.append(opcodes["JUMPDEST"])
            elif item.startswith("@"):
                code += bytes([0x60, labels.get(item[1:], 0) if pass_ else 0])
            else:
                code.append(opcodes[item])
    return bytes(code)


def l1_block_code() -> bytes:
    """Our L1Block stand-in: the depositor's ``setL1BlockValues{Ecotone,Isthmus,Jovian}``
    calldata into the real contract's slots (what op-geth reads), as its assembly does:

    slot 3 = calldata[4:20] (baseFeeScalar, blobBaseFeeScalar, sequenceNumber), slot 0 =
    calldata[20:36] (timestamp, number), 1 = basefee, 7 = blobBaseFee, 2 = hash, 4 =
    batcherHash and, with Isthmus or Jovian calldata, slot 8 = calldata[164:176]
    (operatorFeeScalar, operatorFeeConstant; op-geth reads Jovian's DA footprint gas scalar
    from the calldata itself). Any other caller or selector reverts.
    """
    stores = [(4, 128, 3), (20, 128, 0), (36, 0, 1), (68, 0, 7), (100, 0, 2), (132, 0, 4)]
    program: list[str | int | bytes] = [
        "CALLER", bytes.fromhex(DEPOSITOR[2:]), "EQ",
        "PUSH0", "CALLDATALOAD", 0xE0, "SHR",
        "DUP1", ECOTONE_SELECTOR, "EQ", "DUP2", ISTHMUS_SELECTOR, "EQ", "OR",
        "SWAP1", JOVIAN_SELECTOR, "EQ", "OR", "AND",
        "@ok", "JUMPI", "PUSH0", "PUSH0", "REVERT",
        ":ok",
    ]  # fmt: skip
    for offset, shift, slot in stores:
        program += [offset, "CALLDATALOAD"] + ([shift, "SHR"] if shift else []) + [slot, "SSTORE"]
    program += [176, "CALLDATASIZE", "LT", "@end", "JUMPI"]
    program += [164, "CALLDATALOAD", 160, "SHR", 8, "SSTORE", ":end", "STOP"]
    return _assemble(program)


def holocene_extra_data(
    denominator: int = EIP1559_DENOMINATOR_CANYON, elasticity: int = EIP1559_ELASTICITY
) -> str:
    """A Holocene header's extraData: version 0, denominator, elasticity (uint32 each)."""
    return "0x00" + denominator.to_bytes(4, "big").hex() + elasticity.to_bytes(4, "big").hex()


def eip1559_params(
    denominator: int = EIP1559_DENOMINATOR_CANYON, elasticity: int = EIP1559_ELASTICITY
) -> str:
    """Payload attributes' ``eip1559Params`` (Holocene): denominator ‖ elasticity."""
    return "0x" + denominator.to_bytes(4, "big").hex() + elasticity.to_bytes(4, "big").hex()


def _system_alloc(binary: Path) -> dict[str, Any]:
    """Precompiles and the EIP-4788 / EIP-2935 contracts, from ``op-geth --dev dumpgenesis``."""
    alloc: dict[str, Any] = dump_dev_genesis(binary)["alloc"]
    kept: dict[str, Any] = {}
    for address, account in alloc.items():
        key = "0x" + address.lower().removeprefix("0x")
        if key in _SYSTEM_CONTRACTS or int(key, 16) <= 0xFFFF:
            kept[key[2:]] = account
    missing = {a[2:] for a in _SYSTEM_CONTRACTS} - set(kept)
    if missing:
        raise RuntimeError(f"op-geth's dev genesis lacks system contracts {sorted(missing)}")
    return kept


def op_genesis(
    opgeth: Path | None = None,
    *,
    extra_alloc: dict[str, int] | None = None,
    timestamp: int | None = None,
    jovian_time: int | None = None,
) -> dict[str, Any]:
    """Our OP genesis (see the module docstring); ``extra_alloc``: more address -> wei;
    ``jovian_time``: when Jovian activates (None: never)."""
    binary = opgeth or ensure_opgeth()
    l1_blocks = [
        "homestead", "eip150", "eip155", "eip158", "byzantium", "constantinople",
        "petersburg", "istanbul", "muirGlacier", "berlin", "london", "arrowGlacier",
        "grayGlacier", "mergeNetsplit",
    ]  # fmt: skip
    config: dict[str, Any] = {"chainId": CHAIN_ID}
    config.update({f"{fork}Block": 0 for fork in l1_blocks})
    config.update({f"{fork}Time": 0 for fork in ["shanghai", "cancun", "prague"]})
    config["bedrockBlock"] = 0
    op_forks = ["regolith", "canyon", "ecotone", "fjord", "granite", "holocene", "isthmus"]
    config.update({f"{fork}Time": 0 for fork in op_forks})
    if jovian_time is not None:
        config["jovianTime"] = jovian_time
    config["terminalTotalDifficulty"] = 0
    config["depositContractAddress"] = "0x" + "00" * 20
    config["optimism"] = {
        "eip1559Elasticity": EIP1559_ELASTICITY,
        "eip1559Denominator": EIP1559_DENOMINATOR,
        "eip1559DenominatorCanyon": EIP1559_DENOMINATOR_CANYON,
    }
    alloc = _system_alloc(binary)
    stop = "0x00"
    alloc[L1_BLOCK[2:].lower()] = {"balance": "0x0", "code": "0x" + l1_block_code().hex()}
    for vault in [
        SEQUENCER_FEE_VAULT,
        BASE_FEE_VAULT,
        L1_FEE_VAULT,
        OPERATOR_FEE_VAULT,
        L2_TO_L1_MESSAGE_PASSER,
    ]:
        alloc[vault[2:].lower()] = {"balance": "0x0", "code": stop}
    # An Isthmus header's withdrawalsRoot is this contract's storage root, and an empty one is
    # left out of engine API payloads (then refused by engine_newPayload): give it the storage
    # of a real predeploy proxy, its admin (EIP-1967 slot) being the ProxyAdmin predeploy.
    alloc[L2_TO_L1_MESSAGE_PASSER[2:].lower()]["storage"] = {_EIP1967_ADMIN_SLOT: _PROXY_ADMIN}
    funded = dict.fromkeys(dev_addresses(), DEV_BALANCE)
    funded.update(extra_alloc or {})
    for address, wei in funded.items():
        alloc[address[2:].lower()] = {"balance": hex(wei)}
    return {
        "config": config,
        "nonce": "0x0",
        "timestamp": hex(int(time.time()) if timestamp is None else timestamp),
        "extraData": holocene_extra_data(),
        "gasLimit": hex(GAS_LIMIT),
        "difficulty": "0x0",
        "mixHash": _ZERO_HASH,
        "coinbase": "0x" + "00" * 20,
        "number": "0x0",
        "gasUsed": "0x0",
        "parentHash": _ZERO_HASH,
        "baseFeePerGas": hex(GENESIS_BASE_FEE),
        "excessBlobGas": "0x0",
        "blobGasUsed": "0x0",
        "alloc": alloc,
    }


# -- the engine API ---------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_token(secret: bytes, issued_at: int | None = None) -> str:
    """An engine API token: HS256 JWT with only ``iat`` (what geth checks)."""
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    claims = {"iat": int(time.time()) if issued_at is None else issued_at}
    payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode()
    signature = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64url(signature)}"


class OpGeth(LocalNode):
    """A private op-geth process on 127.0.0.1 with its own datadir, blocks made by :meth:`mine`.

    Archive by default (``--state.scheme hash --gcmode archive``). Use as
    ``with OpGeth() as node: ... node.url ...`` or call :meth:`start` / :meth:`stop`.
    """

    name = "op-geth"
    log_name = "op-geth.log"
    stop_timeout = 20.0

    def __init__(
        self,
        *,
        genesis: dict[str, Any] | None = None,
        extra_args: Sequence[str] = (),
        ready_timeout: float = READY_TIMEOUT,
        l1_fields: dict[str, Any] | None = None,
        jovian_in: int | None = None,
        finality_lag: int = 0,
    ) -> None:
        """``jovian_in``: Jovian activates this many seconds after genesis (our own genesis
        only; None: never)."""
        super().__init__(CHAIN_ID, ready_timeout)
        self.genesis = genesis
        self.jovian_in = jovian_in
        self.finality_lag = finality_lag  # safe/finalized this far below the head (0: the head)
        self.jovian_time: int | None = None
        self.extra_args = list(extra_args)
        self.l1_fields = dict(l1_fields or {})  # L1Origin field defaults for mine()
        self.auth_port = 0
        self.jwt_secret = b""

    @property
    def datadir(self) -> Path:
        if self.workdir is None:
            raise RuntimeError("op-geth is not started")
        return self.workdir / "data"

    @property
    def auth_url(self) -> str:
        return f"http://127.0.0.1:{self.auth_port}"

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> OpGeth:
        """Initialise a datadir and start op-geth; return once it answers (or raise)."""
        if self.process is not None:
            raise RuntimeError(f"op-geth is already running at {self.url}")
        binary = ensure_opgeth()
        if self.genesis is not None:
            genesis = self.genesis
        else:
            now = int(time.time())
            jovian = None if self.jovian_in is None else now + self.jovian_in
            genesis = op_genesis(binary, timestamp=now, jovian_time=jovian)
        self.chain_id = int(genesis["config"]["chainId"])
        self.jovian_time = genesis["config"].get("jovianTime")
        self._retrying(lambda: self._spawn(binary, genesis))
        return self

    def _spawn(self, binary: Path, genesis: dict[str, Any]) -> None:
        workdir = Path(tempfile.mkdtemp(prefix="rosetta-opgeth-"))
        datadir = workdir / "data"
        scheme = ["--state.scheme", "hash"]
        init_datadir(binary, workdir, datadir, genesis, scheme)
        secret = secrets.token_bytes(32)
        (workdir / "jwt.hex").write_text(secret.hex())
        port, auth_port = free_port(), free_port()
        args = [
            str(binary),
            *scheme,
            "--gcmode",
            "archive",
            "--networkid",
            str(self.chain_id),
            *loopback_args(datadir, port, auth_port, "eth,net,web3,debug,txpool"),
            "--authrpc.jwtsecret",
            str(workdir / "jwt.hex"),
            "--rollup.txpool.disable-gossip",
            *self.extra_args,
        ]
        self.auth_port, self.jwt_secret = auth_port, secret
        self._launch(args, workdir, port)

    def _ready(self) -> bool:
        if not super()._ready():
            return False
        # The engine API answers too (it is what mine() needs).
        self.engine("engine_exchangeCapabilities", [], timeout=2.0)
        return True

    # -- blocks ------------------------------------------------------------------------------

    def engine(self, method: str, *params: Any, timeout: float = 30.0) -> Any:
        """One authenticated engine API call."""
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
        req = urllib.request.Request(
            self.auth_url,
            data=body.encode(),
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {jwt_token(self.jwt_secret)}",
            },
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            reply = json.loads(resp.read())
        if "error" in reply:
            raise RpcError(method, reply["error"])
        return reply.get("result")

    def mine(
        self,
        deposits: Sequence[Deposit] = (),
        *,
        origin: L1Origin | None = None,
        no_tx_pool: bool = False,
        gas_limit: int = GAS_LIMIT,
        timestamp: int | None = None,
        include: Sequence[str] = (),
        parent: str | None = None,
    ) -> str:
        """Build, import and make head the next block, as op-node's sequencer does; its hash.

        ``parent``: build on that block instead of the head (a reorg: the blocks after it
        leave the canonical chain). Safe and finalized trail the new head by
        :attr:`finality_lag` blocks (0: the head itself).

        The block holds the L1-attributes deposit of ``origin`` (default: a made-up L1 block,
        with :attr:`l1_fields`), then ``deposits`` (user deposits without a source hash get
        one from the origin and their position), then, unless ``no_tx_pool``, the pool's
        pending transactions (send them before calling this). ``include``: hashes of pool
        transactions the block must hold; op-geth fills a payload in the background, so one
        taken too early (a busy machine) is dropped and built again a little later.
        """
        if parent is None:
            head = self.rpc("eth_getBlockByNumber", "latest", False)
        else:
            head = self.rpc("eth_getBlockByHash", parent, False)
        number = int(head["number"], 16) + 1
        if timestamp is None:
            timestamp = max(int(time.time()), int(head["timestamp"], 16) + 1)
        if origin is None:
            origin = L1Origin.made_up(number, timestamp, **self.l1_fields)
        jovian = self.is_jovian(timestamp)
        # Jovian's first block keeps the Isthmus calldata and holds no pool transaction.
        first_jovian = jovian and not self.is_jovian(int(head["timestamp"], 16))
        if first_jovian and (include or not no_tx_pool):
            raise ValueError("the block that activates Jovian takes no pool transactions")
        txs = [l1_info_deposit(origin, JOVIAN if jovian and not first_jovian else ISTHMUS)]
        for index, deposit in enumerate(deposits):
            if deposit.source_hash is None:
                source = source_hash(0, origin.hash, index)
                deposit = dataclasses.replace(deposit, source_hash=source)
            txs.append(deposit)
        parent_beacon_root = "0x" + keccak(b"rosetta-node beacon root" + origin.hash).hex()
        attributes = {
            "timestamp": hex(timestamp),
            "prevRandao": "0x" + keccak(b"rosetta-node prevRandao" + origin.hash).hex(),
            "suggestedFeeRecipient": SEQUENCER_FEE_VAULT,
            "withdrawals": [],
            "parentBeaconBlockRoot": parent_beacon_root,
            "transactions": ["0x" + tx.raw().hex() for tx in txs],
            "noTxPool": no_tx_pool,
            "gasLimit": hex(gas_limit),
            "eip1559Params": eip1559_params(),
        }
        if jovian:
            attributes["minBaseFee"] = MIN_BASE_FEE  # a JSON number, not hex
        settled = self._settled(number - 1, head["hash"])
        state = {
            "headBlockHash": head["hash"],
            "safeBlockHash": settled,
            "finalizedBlockHash": settled,
        }
        envelope = self._build(state, attributes, include)
        payload = envelope["executionPayload"]
        requests = envelope.get("executionRequests") or []
        imported = self.engine("engine_newPayloadV4", payload, [], parent_beacon_root, requests)
        if imported["status"] != "VALID":
            raise RuntimeError(f"op-geth refused its own payload: {imported}")
        block_hash: str = payload["blockHash"]
        settled = self._settled(number, block_hash)
        new_head = {
            "headBlockHash": block_hash,
            "safeBlockHash": settled,
            "finalizedBlockHash": settled,
        }
        chosen = self.engine("engine_forkchoiceUpdatedV3", new_head, None)
        if chosen["payloadStatus"]["status"] != "VALID":
            raise RuntimeError(f"op-geth did not make {block_hash} head: {chosen}")
        return block_hash

    def _settled(self, number: int, hash_: str) -> str:
        """Safe and finalized for head ``number`` (``hash_``): ``finality_lag`` blocks below."""
        if self.finality_lag == 0:
            return hash_
        below = self.rpc("eth_getBlockByNumber", hex(max(0, number - self.finality_lag)), False)
        return str(below["hash"])

    def is_jovian(self, timestamp: int) -> bool:
        return self.jovian_time is not None and timestamp >= self.jovian_time

    def cross_jovian(self) -> str:
        """Mine the block that activates Jovian (at its activation time); its hash."""
        head = self.rpc("eth_getBlockByNumber", "latest", False)
        if self.jovian_time is None or self.is_jovian(int(head["timestamp"], 16)):
            raise RuntimeError(f"no Jovian ahead on this chain (jovianTime {self.jovian_time})")
        return self.mine(no_tx_pool=True, timestamp=self.jovian_time)

    def _build(
        self, state: dict[str, Any], attributes: dict[str, Any], include: Sequence[str]
    ) -> dict[str, Any]:
        """A payload for ``attributes`` holding every ``include`` transaction."""
        wanted = {h.lower() for h in include}
        for attempt in range(6):
            # Another timestamp is another payload id: a resolved payload is never rebuilt.
            timestamp = int(attributes["timestamp"], 16) + attempt
            started = self.engine(
                "engine_forkchoiceUpdatedV3", state, {**attributes, "timestamp": hex(timestamp)}
            )
            status = started["payloadStatus"]["status"]
            if status != "VALID" or not started.get("payloadId"):
                raise RuntimeError(f"op-geth refused the payload attributes: {started}")
            if wanted:
                time.sleep(0.05 * 2**attempt)
            envelope: dict[str, Any] = self.engine("engine_getPayloadV4", started["payloadId"])
            raw = envelope["executionPayload"]["transactions"]
            held = {"0x" + keccak(bytes.fromhex(t[2:])).hex() for t in raw}
            if wanted <= held:
                return envelope
        raise RuntimeError(f"op-geth's payloads never held {sorted(wanted - held)}")

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"OpGeth({self.url or 'not started'}, chain_id={self.chain_id}, {state})"
