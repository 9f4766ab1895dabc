"""SELFDESTRUCT under Cancun (EIP-6780): the chain's rule, and /block reconciling with it.

The cases (tests/selfdestruct_cases.py) run on the session's anvil after the devnet workload.
For each case the chain itself must show the rule (created-and-destroyed in one tx: no code and
zero balance after it, the value burnt; created earlier: code kept, balance sent), and our node's
/block must reconcile: per account, the SUCCESS operations of the block sum to the chain's
balance change. Every check runs on anvil and on a geth --dev archive node.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from eth_account import Account
from eth_utils import to_checksum_address

from rosetta_node.devnet import Anvil
from tests.conftest import NETWORK, JsonRpc, NodeProcess, RosettaClient
from tests.selfdestruct_cases import (
    ANVIL_DEV_KEY_9,
    CASE_NAMES,
    ETHER,
    FRESH_KEY,
    Case,
    CaseRun,
    fund,
    run_cases,
)
from tests.support.geth import Geth
from tests.support.reconcile import reconcile

NODE_HEAD_TIMEOUT = 60.0


@dataclass
class Target:
    """What the checks run against: our node, and the chain it serves."""

    node: RosettaClient
    rpc: JsonRpc
    rpc_url: str
    network: dict[str, str]


@pytest.fixture(scope="module", params=["anvil", "geth"])
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    if request.param == "anvil":
        # The devnet workload ran first (`devnet`), so the cases follow it on the same chain.
        request.getfixturevalue("devnet")
        anvil: Anvil = request.getfixturevalue("anvil")
        yield Target(
            request.getfixturevalue("node"), request.getfixturevalue("rpc"), anvil.url, NETWORK
        )
        return
    with Geth(automine=True) as geth:  # a block per transaction, like anvil's automine
        process = NodeProcess(["--rpc-url", geth.url, "--chain-id", str(geth.chain_id)])
        try:
            process.wait()
            client = RosettaClient(process.url)
            (network,) = client.ok("/network/list", {})["network_identifiers"]
            yield Target(client, JsonRpc(geth.url), geth.url, network)
        finally:
            process.stop()


@pytest.fixture(scope="module")
def cases(target: Target) -> CaseRun:
    return run_and_sync(target, ANVIL_DEV_KEY_9)


def run_and_sync(target: Target, funding_key: str) -> CaseRun:
    """Fund a fresh sender from ``funding_key``, run every case, wait until the node has them."""
    fund(target.rpc_url, funding_key, Account.from_key(FRESH_KEY).address, 10 * ETHER)
    run = run_cases(target.rpc_url, FRESH_KEY)
    wait_node_head(target, run.last_block)
    return run


def wait_node_head(target: Target, block: int) -> None:
    deadline = time.monotonic() + NODE_HEAD_TIMEOUT
    while True:
        status = target.node.ok("/network/status", {"network_identifier": target.network})
        if status["current_block_identifier"]["index"] >= block:
            return
        assert time.monotonic() < deadline, f"node head stuck below {block}: {status}"
        time.sleep(0.1)


def _balances(rpc: JsonRpc, block: int, accounts: list[str]) -> dict[str, int]:
    values = rpc.batch([("eth_getBalance", [a, hex(block)]) for a in accounts])
    return {a: int(v, 16) for a, v in zip(accounts, values, strict=True)}


def _code(rpc: JsonRpc, address: str, block: int) -> str:
    return str(rpc("eth_getCode", address, hex(block)))


def check_chain(target: Target, run: CaseRun, case: Case) -> None:
    """The chain itself shows the EIP-6780 rule for ``case`` (nothing from our node)."""
    rpc = target.rpc
    receipt = rpc("eth_getTransactionReceipt", case.tx_hash)
    assert int(receipt["status"], 16) == case.status
    assert int(receipt["blockNumber"], 16) == case.block
    block = rpc("eth_getBlockByNumber", hex(case.block), False)
    assert block["transactions"] == [case.tx_hash], "each case is alone in its block"
    miner = to_checksum_address(block["miner"])

    accounts = sorted({run.sender, *case.deltas})
    before = _balances(rpc, case.block - 1, accounts)
    after = _balances(rpc, case.block, accounts)
    changed = {a: after[a] - before[a] for a in case.deltas}
    assert changed == case.deltas, f"{case.name}: balance changes on chain"

    # Value that left the sender but reached none of the accounts: burnt by the chain.
    fee = int(receipt["gasUsed"], 16) * int(receipt["effectiveGasPrice"], 16)
    spent = case.value if case.status == 1 else 0
    if run.sender != miner:
        assert after[run.sender] - before[run.sender] == -(fee + spent)
    assert spent - sum(changed.values()) == case.burnt, f"{case.name}: burnt on chain"

    for address in case.deleted:
        assert _code(rpc, address, case.block) == "0x", f"{case.name}: {address} has code"
        assert after[address] == 0, f"{case.name}: {address} kept a balance"
    for address in case.kept:
        assert _code(rpc, address, case.block) != "0x", f"{case.name}: {address} lost its code"


def reconcile_block(target: Target, index: int, accounts: list[str]) -> None:
    """/block's SUCCESS operations summed per account equal the chain's balance change, for
    every account in the operations plus ``accounts`` and the block's miner."""
    miner = target.rpc("eth_getBlockByNumber", hex(index), False)["miner"]
    reconcile(target.node, target.rpc, target.network, [index], [*accounts, miner])


def check_node(target: Target, run: CaseRun, case: Case) -> None:
    """Our node's /block for the case's block reconciles with the chain, account by account."""
    reconcile_block(target, case.block, [run.sender, *run.accounts()])


@pytest.mark.parametrize("name", CASE_NAMES)
def test_chain_rule(target: Target, cases: CaseRun, name: str) -> None:
    check_chain(target, cases, cases.case(name))


@pytest.mark.parametrize("name", CASE_NAMES)
def test_block_reconciles(target: Target, cases: CaseRun, name: str) -> None:
    check_node(target, cases, cases.case(name))


def test_other_blocks_reconcile(target: Target, cases: CaseRun) -> None:
    # Deploy blocks (and anything else between the cases) reconcile too.
    case_blocks = {c.block for c in cases.cases}
    span = range(cases.first_block, cases.last_block + 1)
    assert [i for i in span if i not in case_blocks], "the deploys have blocks of their own"
    miners = {target.rpc("eth_getBlockByNumber", hex(i), False)["miner"] for i in span}
    reconcile(
        target.node, target.rpc, target.network, span, [cases.sender, *cases.accounts(), *miners]
    )


def test_categories(cases: CaseRun) -> None:
    burn = {c.name for c in cases.cases if c.burnt}
    assert set(cases.tx_hashes["burn"]) == {cases.case(n).tx_hash for n in burn}
    assert burn == {
        "create_destroy_self",
        "factory_destroy_self",
        "factory_destroy_to",
        "factory_constructor_self",
        "factory_constructor_to",
        "destroy_into_dead",
    }
    assert len(cases.tx_hashes["deploy"]) == 2
