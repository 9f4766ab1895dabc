"""The one-call balance reader answers exactly what one eth_call per token answers.

Against the session's devnet (its ERC-20s and holders at many blocks) and a token that
misbehaves on purpose (``OddToken``: reverts, spends more gas than the reader allows one call,
returns two words, returns nothing), plus addresses without code, a contract without
``balanceOf`` and precompiles. The reference is always the node's own answer to a plain
``eth_call`` to the token at the same block hash.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from rosetta_node.devnet import Anvil
from rosetta_node.engine.balance_reader import (
    MAX_PAIRS,
    balance_of_call,
    read_balances,
    reader_answer,
)
from rosetta_node.engine.node import NetworkEngine
from rosetta_node.engine.node_errors import NodeError
from rosetta_node.metrics import REGISTRY
from rosetta_node.settings import NetworkSettings
from tests.conftest import Devnet, JsonRpc
from tests.fake_server import serve
from tests.support.artifacts import bytecode as artifact_bytecode
from tests.workload import wait_receipt


def deploy(rpc: JsonRpc, name: str) -> str:
    sender = rpc("eth_accounts")[0]
    code = artifact_bytecode(name)
    tx_hash = rpc("eth_sendTransaction", {"from": sender, "data": code, "gas": hex(3_000_000)})
    receipt = wait_receipt(rpc, tx_hash)
    assert receipt["status"] == "0x1"
    return str(receipt["contractAddress"])


def odd_account(mode: int, seed: int) -> str:
    """An account whose last byte picks OddToken's behaviour."""
    return "0x" + random.Random(seed).randbytes(19).hex() + f"{mode:02x}"


@pytest.fixture(scope="module")
def odd(rpc: JsonRpc, devnet: Devnet) -> tuple[str, str]:
    return deploy(rpc, "OddToken"), deploy(rpc, "Reverter")


def plain_answers(rpc: JsonRpc, pairs: list[tuple[str, str]], block_hash: str) -> list[Any]:
    """The node's own answers: one balanceOf eth_call per pair, as a batch."""
    pin = {"blockHash": block_hash}
    calls = [balance_of_call(token, account, pin) for token, account in pairs]
    body = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
    answers = {a["id"]: a for a in rpc.session.post(rpc.url, json=body, timeout=60).json()}
    return [
        answers[i].get("result", ("error", answers[i].get("error", {}).get("message")))
        for i in range(len(pairs))
    ]


def comparable(answer: Any) -> Any:
    if isinstance(answer, NodeError):
        return ("error", answer.message)
    return answer


def eth_calls_sent() -> float:
    return REGISTRY.get_sample_value("rosetta_node_rpc_calls_total", {"method": "eth_call"}) or 0.0


async def ours(
    anvil: Anvil, number: int, pairs: list[tuple[str, str]], reader: bool = True
) -> tuple[str, list[Any], float]:
    engine = NetworkEngine(NetworkSettings(rpc_url=anvil.url, multicall=reader))
    try:
        await engine.probe()
        header = await engine.chain.by_number(number)
        before = eth_calls_sent()
        answers = await read_balances(engine.chain, header, pairs, reader=reader)
        return header.hash, [comparable(a) for a in answers], eth_calls_sent() - before
    finally:
        await engine.close()


def test_devnet_balances_equal_one_call_per_token(
    anvil: Anvil, rpc: JsonRpc, devnet: Devnet
) -> None:
    workload = devnet.workload
    tokens = [t.address for t in workload.tokens]
    holders = workload.accounts
    rng = random.Random(11)
    head = int(rpc("eth_blockNumber"), 16)
    blocks = rng.sample(range(workload.first_block, head + 1), 12)
    nonzero = 0
    for number in blocks:
        pairs = [(t, h) for t in tokens for h in rng.sample(holders, min(len(holders), 8))]
        pairs += [("0x" + rng.randbytes(20).hex(), holders[0])]  # no code: "0x"
        block_hash, answers, sent = asyncio.run(ours(anvil, number, pairs))
        assert answers == plain_answers(rpc, pairs, block_hash), number
        assert sent == 1, f"{len(pairs)} pairs took {sent} eth_calls"
        nonzero += sum(1 for a in answers if isinstance(a, str) and a != "0x" and int(a, 16))
    assert nonzero > 20, "the devnet's holders hold tokens at these blocks"


def test_misbehaving_tokens_are_answered_as_one_call_each_would_be(
    anvil: Anvil, rpc: JsonRpc, odd: tuple[str, str]
) -> None:
    odd_token, reverter = odd
    accounts = [odd_account(mode, seed) for mode in (0, 1, 2, 3, 4, 5) for seed in (1, 2)]
    pairs = [(odd_token, account) for account in accounts]
    pairs += [(reverter, accounts[0])]  # no balanceOf, no fallback: reverts
    pairs += [("0x" + "00" * 19 + "02", accounts[0])]  # sha256 precompile: one word
    pairs += [("0x" + "00" * 19 + "04", accounts[0])]  # identity precompile: 36 bytes
    head = int(rpc("eth_blockNumber"), 16)
    block_hash, answers, sent = asyncio.run(ours(anvil, head, pairs))  # both deployed
    expected = plain_answers(rpc, pairs, block_hash)
    assert answers == expected
    by_mode = dict(zip(accounts, answers, strict=False))
    assert by_mode[accounts[4]] == "0x" + f"{42:064x}"  # the gas spender, asked again alone
    assert isinstance(by_mode[accounts[2]], tuple)  # the revert, with the node's message
    assert by_mode[accounts[8]] == "0x"
    # one reader call, then one call each for the 2 reverts, 2 gas spenders, 2 two-word
    # answers, the contract without balanceOf and the identity precompile
    assert sent == 1 + 8


def test_many_pairs_are_split_and_the_setting_turns_the_reader_off(
    anvil: Anvil, rpc: JsonRpc, devnet: Devnet
) -> None:
    token = devnet.workload.tokens[0].address
    accounts = [odd_account(0, seed) for seed in range(MAX_PAIRS * 2 + 5)]
    pairs = [(token, account) for account in accounts]
    for holder in devnet.workload.accounts[:5]:
        pairs.append((token, holder))
    head = int(rpc("eth_blockNumber"), 16)
    block_hash, answers, sent = asyncio.run(ours(anvil, head, pairs))
    assert answers == plain_answers(rpc, pairs, block_hash)
    assert sent == 3
    _, plain, sent_plain = asyncio.run(ours(anvil, head, pairs[:10], reader=False))
    assert plain == answers[:10]
    assert sent_plain == 10


def _words(*values: int) -> str:
    return "0x" + "".join(f"{v:064x}" for v in values)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (None, [None, None]),
        ("0x", [None, None]),
        (_words(0, 5), [None, None]),  # one pair's worth for two pairs
        ("0x" + "zz" * 128, [None, None]),
        (_words(0, 5, 1, 0), ["0x" + f"{5:064x}", "0x"]),
        (_words(7, 0, 0, 5), [None, "0x" + f"{5:064x}"]),  # an unknown status: alone
        (_words(2, 0, 3, 0), [None, None]),
    ],
)
def test_reader_answers(answer: Any, expected: list[Any]) -> None:
    assert reader_answer(answer, 2) == expected


def test_a_node_refusing_the_reader_gets_one_call_per_token(
    anvil: Anvil, rpc: JsonRpc, devnet: Devnet, caplog: pytest.LogCaptureFixture
) -> None:
    """A node that refuses eth_call without `to` (a fake in front of anvil that answers those
    with an error): every balance still equals the node's own, one call per token."""

    async def main() -> tuple[str, list[Any], list[Any], float]:
        async def handle(request: web.Request) -> web.Response:
            body = await request.json()
            items = body if isinstance(body, list) else [body]
            async with (
                aiohttp.ClientSession() as session,
                session.post(anvil.url, json=items) as upstream,
            ):
                answers = {a["id"]: a for a in await upstream.json()}
            for item in items:
                if item["method"] == "eth_call" and "to" not in item["params"][0]:
                    error = {"code": -32601, "message": "contract creation calls not supported"}
                    answers[item["id"]] = {"jsonrpc": "2.0", "id": item["id"], "error": error}
            out = [answers[item["id"]] for item in items]
            return web.json_response(out if isinstance(body, list) else out[0])

        async with serve(handle) as url:
            engine = NetworkEngine(NetworkSettings(rpc_url=url))
            try:
                await engine.probe()
                head = int(rpc("eth_blockNumber"), 16)
                header = await engine.chain.by_number(head - 3)
                tokens = [t.address for t in devnet.workload.tokens]
                pairs = [(t, a) for t in tokens for a in devnet.workload.accounts[:6]]
                before = eth_calls_sent()
                answers = []
                for _ in range(2):
                    got = await read_balances(engine.chain, header, pairs, reader=True)
                    answers.append([comparable(a) for a in got])
                return header.hash, pairs, answers, eth_calls_sent() - before
            finally:
                await engine.close()

    with caplog.at_level(logging.WARNING, logger="rosetta_node.engine.balance_reader"):
        block_hash, pairs, answers, sent = asyncio.run(main())
    expected = plain_answers(rpc, pairs, block_hash)
    assert answers == [expected, expected]
    assert sent == 2 * (1 + len(pairs))  # the refused reader call, then one call per pair
    refusals = [r for r in caplog.records if "refused a BalanceReader" in r.getMessage()]
    assert len(refusals) == 1 and "multicall = false" in refusals[0].getMessage()
