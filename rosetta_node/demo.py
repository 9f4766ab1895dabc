"""The devnet's demonstration chain (``rosetta-node serve --devnet``): something on it.

On a fresh anvil the first dev account deploys our own contracts (``rosetta_node/contracts``)
at addresses fixed by its nonces, so the README's examples can name them:

- three ERC-20 tokens with different decimals (:data:`TOKENS`), listed in a token list;
- a Forwarder (ETH through internal calls) and a Reverter (every call to it fails).

Then a short history: mints, transfers, a burn, ETH forwarded through a contract, a failed
transaction and a plain ETH transfer. :class:`Activity` keeps the chain alive afterwards with
a little of the same every few seconds. The token list and the Transfer-log index live in a
data folder of the caller's (the index is started afresh: anvil's chain is new each time).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_abi import encode as abi_encode
from eth_typing import HexAddress, HexStr
from eth_utils import function_signature_to_4byte_selector, to_checksum_address
from web3.types import Nonce
from web3.utils.address import get_create_address

from .artifacts import bytecode
from .devnet import Anvil

log = logging.getLogger(__name__)

# anvil's first dev accounts (its default mnemonic): the deployer, then the demo's holders.
DEPLOYER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
ALICE = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
BOB = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
CAROL = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
DAVE = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"
HOLDERS = [ALICE, BOB, CAROL, DAVE]
TOKENS = [("Demo Dollar", "DUSD", 6), ("Demo Gold", "DGLD", 18), ("Demo Points", "DPTS", 2)]
ETHER = 10**18
MINT, TRANSFER = "mint(address,uint256)", "transfer(address,uint256)"
BALANCE_OF = "balanceOf(address)"


@dataclass(frozen=True)
class DemoToken:
    address: str
    name: str
    symbol: str
    decimals: int

    def units(self, amount: float) -> int:
        return int(amount * 10**self.decimals)


@dataclass(frozen=True)
class DemoChain:
    tokens: list[DemoToken]
    forwarder: str
    reverter: str
    token_list: Path
    index_db: Path


def created(nonce: int) -> str:
    """The address of the contract the deployer creates with ``nonce`` (CREATE)."""
    return str(get_create_address(HexAddress(HexStr(DEPLOYER)), Nonce(nonce)))


# Deployment order = the deployer's nonces 0..4: the addresses never change.
TOKEN_ADDRESSES = [created(n) for n in range(len(TOKENS))]
FORWARDER = created(len(TOKENS))
REVERTER = created(len(TOKENS) + 1)


def _calldata(signature: str, types: list[str], args: list[Any]) -> str:
    return "0x" + (function_signature_to_4byte_selector(signature) + abi_encode(types, args)).hex()


class _Sender:
    """Transactions from anvil's unlocked dev accounts, each waited for."""

    def __init__(self, node: Anvil) -> None:
        self.node = node

    def send(self, sender: str, to: str | None, data: str = "0x", value: int = 0) -> dict[str, Any]:
        tx: dict[str, Any] = {"from": sender, "data": data, "value": hex(value)}
        tx["gas"] = hex(3_000_000)  # no estimate: a call meant to fail is still mined
        if to is not None:
            tx["to"] = to
        tx_hash = self.node.rpc("eth_sendTransaction", tx)
        for _ in range(500):
            receipt = self.node.rpc("eth_getTransactionReceipt", tx_hash)
            if receipt is not None:
                return dict(receipt)
            time.sleep(0.01)
        raise RuntimeError(f"demo transaction {tx_hash} was not mined")

    def token(
        self, sender: str, token: str, signature: str, types: list[str], args: list[Any]
    ) -> None:
        receipt = self.send(sender, token, _calldata(signature, types, args))
        if receipt["status"] != "0x1":
            raise RuntimeError(f"demo call {signature} on {token} failed")


def build(node: Anvil, data_dir: Path) -> DemoChain:
    """Deploy the demo contracts on a fresh anvil, make a short history, write the token list."""
    if int(node.rpc("eth_getTransactionCount", DEPLOYER, "latest"), 16) != 0:
        raise RuntimeError("the demo chain needs a fresh anvil (its deployer has sent already)")
    send = _Sender(node)
    tokens = []
    for (name, symbol, decimals), expected in zip(TOKENS, TOKEN_ADDRESSES, strict=True):
        args = abi_encode(["string", "string", "uint8"], [name, symbol, decimals]).hex()
        receipt = send.send(DEPLOYER, None, bytecode("TestToken") + args)
        assert to_checksum_address(receipt["contractAddress"]) == expected
        tokens.append(DemoToken(expected, name, symbol, decimals))
    for name, expected in (("Forwarder", FORWARDER), ("Reverter", REVERTER)):
        receipt = send.send(DEPLOYER, None, bytecode(name))
        assert to_checksum_address(receipt["contractAddress"]) == expected
    dusd, dgld, dpts = tokens
    pair = ["address", "uint256"]
    send.token(DEPLOYER, dusd.address, MINT, pair, [ALICE, dusd.units(1_000_000)])
    send.token(DEPLOYER, dusd.address, MINT, pair, [BOB, dusd.units(250_000)])
    send.token(DEPLOYER, dgld.address, MINT, pair, [ALICE, dgld.units(500)])
    send.token(DEPLOYER, dpts.address, MINT, pair, [CAROL, dpts.units(10_000)])
    send.token(ALICE, dusd.address, TRANSFER, pair, [BOB, dusd.units(250)])
    send.token(BOB, dusd.address, TRANSFER, pair, [CAROL, dusd.units(100)])
    send.token(ALICE, dgld.address, TRANSFER, pair, [DAVE, dgld.units(12.5)])
    send.token(CAROL, dpts.address, "burn(uint256)", ["uint256"], [dpts.units(1_000)])
    forward = _calldata("forward(address)", ["address"], [DAVE])
    send.send(ALICE, FORWARDER, forward, ETHER // 2)  # ETH through an internal call
    send.send(BOB, REVERTER, value=ETHER // 10)  # fails: only the fee is paid
    send.send(ALICE, CAROL, value=ETHER)
    data_dir.mkdir(parents=True, exist_ok=True)
    token_list = data_dir / "tokens.json"
    token_list.write_text(json.dumps(_token_list(tokens, int(node.chain_id)), indent=2) + "\n")
    index_db = data_dir / "index.sqlite"
    for stale in data_dir.glob("index.sqlite*"):  # anvil's chain is new: so is the index
        stale.unlink()
    return DemoChain(tokens, FORWARDER, REVERTER, token_list, index_db)


def _token_list(tokens: list[DemoToken], chain_id: int) -> dict[str, Any]:
    return {
        "name": "rosetta-node demo tokens",
        "version": {"major": 1, "minor": 0, "patch": 0},
        "tokens": [
            {
                "chainId": chain_id,
                "address": t.address,
                "name": t.name,
                "symbol": t.symbol,
                "decimals": t.decimals,
            }
            for t in tokens
        ],
    }


class Activity:
    """Every ``interval`` seconds a little activity (token and ETH transfers, now and then a
    mint or a burn), so the chain keeps moving; :meth:`stop` ends it."""

    def __init__(self, node: Anvil, chain: DemoChain, interval: float, seed: int = 7) -> None:
        self.node, self.chain, self.interval = node, chain, interval
        self.rng = random.Random(seed)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-activity", daemon=True)

    def start(self) -> Activity:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        send = _Sender(self.node)
        while not self._stop.wait(self.interval):
            try:
                self._tick(send)
            except Exception as exc:  # the node went away (shutting down): stop quietly
                log.info("demo activity stopped: %s", exc)
                return

    def _tick(self, send: _Sender) -> None:
        token = self.rng.choice(self.chain.tokens)
        sender, receiver = self.rng.sample(HOLDERS, 2)
        amount = token.units(self.rng.choice([1, 2, 5, 10]))
        call = {"to": token.address, "data": _calldata(BALANCE_OF, ["address"], [sender])}
        balance = int(self.node.rpc("eth_call", call, "latest"), 16)
        pair = ["address", "uint256"]
        if balance < amount:  # this one has run dry: the deployer mints instead
            send.token(DEPLOYER, token.address, MINT, pair, [sender, amount * 100])
        elif self.rng.random() < 0.1:
            send.token(sender, token.address, "burn(uint256)", ["uint256"], [amount])
        else:
            send.token(sender, token.address, TRANSFER, pair, [receiver, amount])
        send.send(sender, receiver, value=ETHER // 1000)


def quickstart(url: str, chain: DemoChain) -> str:
    """What a new user sees: the URL and ready-to-paste commands with this chain's addresses."""
    dusd = chain.tokens[0]
    network = {"blockchain": "Ethereum", "network": "devnet"}
    currency = {
        "symbol": dusd.symbol,
        "decimals": dusd.decimals,
        "metadata": {"contractAddress": dusd.address},
    }
    balance = {
        "network_identifier": network,
        "account_identifier": {"address": ALICE},
        "currencies": [currency],
    }
    summary = {"filter": {"accountAddresses": [ALICE]}}
    json_header = "-H 'Content-Type: application/json'"
    tokens = ", ".join(f"{t.symbol} {t.address}" for t in chain.tokens)
    return "\n".join(
        [
            f"rosetta-node is serving the demo devnet at {url}",
            f"  API page:  {url}/docs   (OpenAPI: {url}/openapi.json)",
            f"  tokens:    {tokens}",
            f"  accounts:  Alice {ALICE}, Bob {BOB}",
            "",
            "Try:",
            f"  curl -s {url}/account/balance {json_header} -d '{json.dumps(balance)}'",
            f"  curl -s {url}/rpc/IndexerGateway/GetTokenBalancesSummary {json_header} "
            f"-d '{json.dumps(summary)}'",
            f"  curl -s '{url}/v1/account/tokens?chain_id=31337&address={ALICE}'",
            f"  curl -s '{url}/v1/token/holders?chain_id=31337&contract_address={dusd.address}'",
        ]
    )
