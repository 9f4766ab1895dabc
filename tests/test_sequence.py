"""Sequence Indexer Gateway routes against anvil, through a real node process.

Every balance is compared with ``balanceOf`` / ``eth_getBalance`` on anvil at the block the
answer names; token and holder sets with what anvil's Transfer logs imply; every response
(errors included) is validated against ``specs/sequence.yaml``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from rosetta_node.addresses import checksum
from rosetta_node.devnet import Anvil, free_port
from rosetta_node.index.transfers import TRANSFER_TOPIC
from tests.conftest import (
    CHAIN_ID,
    TRANSLATORS_ONLY,
    Devnet,
    IndexedNode,
    JsonRpc,
    NodeProcess,
)
from tests.spec_check import validate_request, validate_response
from tests.test_token_service import transfer_pairs

ZERO = "0x0000000000000000000000000000000000000000"

SPEC = "sequence.yaml"
PREFIX = "/rpc/IndexerGateway/"


@dataclass
class Answer:
    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)  # case-insensitive from requests


class Gateway:
    """Posts to the node's gateway routes; validates every answer against the spec."""

    def __init__(self, url: str, key: str | None = None) -> None:
        self.url = url
        self.key = key
        self.session = requests.Session()

    def send(
        self,
        method: str,
        data: bytes | str,
        *,
        http_method: str = "POST",
        headers: dict[str, str] | None = None,
    ) -> Answer:
        path = PREFIX + method if not method.startswith("/") else method
        sent = {"Content-Type": "application/json", **(headers or {})}
        if self.key is not None:
            sent.setdefault("X-Access-Key", self.key)
        reply = self.session.request(
            http_method, self.url + path, data=data, headers=sent, timeout=60
        )
        assert reply.headers.get("content-type", "").startswith("application/json"), (
            reply.status_code,
            reply.text[:300],
        )
        body = reply.json()
        validate_response(path, reply.status_code, body, spec=SPEC)
        if reply.status_code != 200:
            assert body["status"] == reply.status_code, body
        return Answer(reply.status_code, body, reply.headers)

    def post(self, method: str, body: Any, **kwargs: Any) -> Answer:
        return self.send(method, json.dumps(body), **kwargs)

    def ok(self, method: str, body: Any) -> Any:
        validate_request(PREFIX + method, body, spec=SPEC)  # the spec admits what we accept
        answer = self.post(method, body)
        assert answer.status == 200, answer.body
        return answer.body

    def error(self, method: str, body: Any, status: int, name: str) -> dict[str, Any]:
        answer = self.post(method, body)
        assert (answer.status, answer.body["error"]) == (status, name), answer.body
        return answer.body  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def gw(indexed_node: IndexedNode) -> Gateway:
    return Gateway(indexed_node.url)


def lower(address: str) -> str:
    return address.lower()


def block_hash(rpc: JsonRpc, number: int) -> str:
    return str(rpc("eth_getBlockByNumber", hex(number), False)["hash"])


def one_chain(wrappers: list[dict[str, Any]]) -> dict[str, Any]:
    (wrapper,) = wrappers
    assert wrapper["chainId"] == CHAIN_ID
    assert "errorReason" not in wrapper, wrapper
    return wrapper


def check_pinned(rpc: JsonRpc, wrapper: dict[str, Any], devnet: Devnet) -> int:
    """The wrapper's block is canonical on anvil and holds the whole workload; its number."""
    number = wrapper["blockNumber"]
    assert number >= devnet.workload.last_block
    assert block_hash(rpc, number) == wrapper["blockHash"]
    return int(number)


def summary(gw: Gateway, accounts: list[str], **filter_: Any) -> Any:
    body: dict[str, Any] = {"filter": {"accountAddresses": accounts, **filter_}}
    return gw.ok("GetTokenBalancesSummary", body)


def rows_by_account(wrapper: dict[str, Any]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for row in wrapper["results"]:
        out.setdefault(row["accountAddress"], set()).add(row["contractAddress"])
    return out


# -- token balances ------------------------------------------------------------------------


def test_summary_equals_balance_of_and_transfer_logs(
    gw: Gateway, rpc: JsonRpc, devnet: Devnet
) -> None:
    accounts = devnet.workload.accounts
    answer = summary(gw, accounts, contractStatus="ALL")
    tokens = one_chain(answer["balances"])
    block = check_pinned(rpc, tokens, devnet)
    pairs = transfer_pairs(rpc, block)
    listed = {lower(t.address): t for t in devnet.tracked}
    held = rows_by_account(tokens)
    checked = 0
    for account in accounts:
        touched = {c for c, holders in pairs.items() if account in holders}
        nonzero = {lower(c) for c in touched if rpc.token_balance(c, account, block) > 0}
        assert held.get(lower(account), set()) == nonzero, account
    for row in tokens["results"]:
        assert row["contractType"] == "ERC20" and row["chainId"] == CHAIN_ID
        value = rpc.token_balance(row["contractAddress"], row["accountAddress"], block)
        assert row["balance"] == str(value) and value > 0
        assert row["blockNumber"] <= block
        assert block_hash(rpc, row["blockNumber"]) == row["blockHash"]
        info = row["contractInfo"]
        assert info["address"] == row["contractAddress"]
        token = listed.get(row["contractAddress"])
        assert info["extensions"]["verified"] == (token is not None)
        if token is not None:
            assert (info["symbol"], info["decimals"]) == (token.symbol, token.decimals)
        checked += 1
    assert checked > 10
    # Native balances: every account, at the same block as the token balances.
    natives = one_chain(answer["nativeBalances"])
    assert (natives["blockNumber"], natives["blockHash"]) == (block, tokens["blockHash"])
    assert [n["accountAddress"] for n in natives["results"]] == [lower(a) for a in accounts]
    for native in natives["results"]:
        assert native["balance"] == str(rpc.balance(native["accountAddress"], block))
        assert native["symbol"] == "ETH"
    assert answer["page"] == {"page": 1, "pageSize": 200, "more": False}


def test_summary_rows_block_is_the_last_transfer_of_the_pair(
    gw: Gateway, rpc: JsonRpc, devnet: Devnet
) -> None:
    answer = summary(gw, devnet.workload.accounts, contractStatus="ALL")
    tokens = one_chain(answer["balances"])
    logs = rpc(
        "eth_getLogs",
        {"fromBlock": "0x0", "toBlock": hex(tokens["blockNumber"]), "topics": [TRANSFER_TOPIC]},
    )
    last: dict[tuple[str, str], int] = {}
    for log in logs:
        for topic in log["topics"][1:3]:
            key = (log["address"].lower(), "0x" + topic[-40:])
            last[key] = max(last.get(key, 0), int(log["blockNumber"], 16))
    for row in tokens["results"]:
        assert row["blockNumber"] == last[(row["contractAddress"], row["accountAddress"])]


def test_contract_status_partitions_listed_and_unlisted(
    gw: Gateway, rpc: JsonRpc, devnet: Devnet
) -> None:
    accounts = devnet.workload.accounts
    listed = {lower(t.address) for t in devnet.tracked}
    unlisted = lower(devnet.untracked.address)

    def rows(status: Any, **extra: Any) -> set[tuple[str, str]]:
        filter_: dict[str, Any] = {"accountAddresses": accounts, **extra}
        if status is not ...:
            filter_["contractStatus"] = status
        wrapper = one_chain(gw.ok("GetTokenBalancesSummary", {"filter": filter_})["balances"])
        return {(r["accountAddress"], r["contractAddress"]) for r in wrapper["results"]}

    every = rows("ALL")
    verified = rows("VERIFIED")
    unverified = rows("UNVERIFIED")
    assert verified and unverified  # the workload holds both kinds
    assert {c for _, c in verified} <= listed
    assert {c for _, c in unverified} == {unlisted}
    assert verified | unverified == every and not verified & unverified
    assert rows(...) == verified  # omitted: VERIFIED
    assert rows(None) == verified  # null (Go client: nil pointer)
    assert rows("") == verified  # "" (Go client: zero value of the enum)
    assert rows("ALL", contractTypes=["ERC721"]) == set()
    assert rows("ALL", contractTypes=["ERC20", "NATIVE"]) == every


def eth_calls_made(url: str) -> float:
    metrics = requests.get(url + "/metrics", timeout=10).text
    for line in metrics.splitlines():
        if line.startswith('rosetta_node_rpc_calls_total{method="eth_call"}'):
            return float(line.split()[-1])
    return 0.0


def test_no_erc20_wanted_reads_no_token(
    gw: Gateway, indexed_node: IndexedNode, devnet: Devnet, rpc: JsonRpc
) -> None:
    """contractTypes without ERC20: natives only, and not one balanceOf or metadata call."""
    # A block no answer was read at yet: nothing of it is cached, so a token read would show.
    rpc("evm_mine")
    indexed_node.wait_indexed(int(rpc("eth_blockNumber"), 16))
    accounts = devnet.workload.accounts[:4]
    filter_ = {"accountAddresses": accounts, "contractTypes": ["ERC721"], "contractStatus": "ALL"}
    before = eth_calls_made(indexed_node.url)
    answer = gw.ok("GetTokenBalancesSummary", {"filter": filter_})
    assert eth_calls_made(indexed_node.url) == before
    assert one_chain(answer["balances"])["results"] == []
    natives = one_chain(answer["nativeBalances"])["results"]
    assert [lower(n["accountAddress"]) for n in natives] == [lower(a) for a in accounts]


def test_whitelist_and_blacklist(gw: Gateway, devnet: Devnet) -> None:
    accounts = devnet.workload.accounts
    first, second = (t.address for t in devnet.tracked[:2])

    def contracts(**extra: Any) -> set[str]:
        body = {"filter": {"accountAddresses": accounts, "contractStatus": "ALL", **extra}}
        wrapper = one_chain(gw.ok("GetTokenBalancesSummary", body)["balances"])
        return {r["contractAddress"] for r in wrapper["results"]}

    every = contracts()
    assert lower(first) in every and lower(second) in every
    assert contracts(contractWhitelist=[first, second.lower()]) == {lower(first), lower(second)}
    assert contracts(contractBlacklist=[first.upper().replace("0X", "0x")]) == every - {
        lower(first)
    }
    assert contracts(contractWhitelist=[first], contractBlacklist=[first]) == set()


def test_details_metadata_and_native_options(gw: Gateway, devnet: Devnet) -> None:
    accounts = devnet.workload.accounts[:20]
    body = {"filter": {"accountAddresses": accounts, "contractStatus": "ALL"}}
    summary_ = gw.ok("GetTokenBalancesSummary", body)
    details = gw.ok("GetTokenBalancesDetails", body)
    assert details == summary_  # ERC-20: no per-token-id detail
    bare = gw.ok(
        "GetTokenBalancesDetails",
        {"filter": {**body["filter"], "omitNativeBalances": True}, "omitMetadata": True},
    )
    assert bare["nativeBalances"] == []
    rows = one_chain(bare["balances"])["results"]
    assert rows and all("contractInfo" not in r for r in rows)
    full = one_chain(summary_["balances"])["results"]
    assert [{k: v for k, v in r.items() if k != "contractInfo"} for r in full] == rows


def test_summary_pages_cover_every_row_once(gw: Gateway, devnet: Devnet) -> None:
    filter_ = {"accountAddresses": devnet.workload.accounts, "contractStatus": "ALL"}
    whole = one_chain(gw.ok("GetTokenBalancesSummary", {"filter": filter_})["balances"])
    expected = [(r["accountAddress"], r["contractAddress"]) for r in whole["results"]]
    assert len(expected) > 6
    seen: list[tuple[str, str]] = []
    page: dict[str, Any] = {"pageSize": 3}
    pages = 0
    while True:
        answer = gw.ok("GetTokenBalancesSummary", {"filter": filter_, "page": page})
        assert (answer["nativeBalances"] == []) == (pages > 0)  # natives on the first page
        rows = one_chain(answer["balances"])["results"]
        assert len(rows) <= 3
        seen.extend((r["accountAddress"], r["contractAddress"]) for r in rows)
        pages += 1
        page = answer["page"]
        assert page["pageSize"] == 3
        if not page["more"]:
            assert "after" not in page
            break
        assert page["page"] == pages + 1 and isinstance(page["after"], str)
    assert sorted(seen) == sorted(expected) and len(seen) == len(set(seen))
    assert pages == math.ceil(len(expected) / 3)


# -- by contract ---------------------------------------------------------------------------


def test_by_contract_holders_paged_equal_chain(gw: Gateway, rpc: JsonRpc, devnet: Devnet) -> None:
    contracts = [devnet.tracked[0].address, devnet.untracked.address]
    seen: list[tuple[str, str]] = []
    page: dict[str, Any] = {"pageSize": 4}
    blocks = set()
    while True:
        answer = gw.ok(
            "GetTokenBalancesByContract",
            {"filter": {"contractAddresses": contracts, "contractStatus": "ALL"}, "page": page},
        )
        wrapper = one_chain(answer["balances"])
        block = check_pinned(rpc, wrapper, devnet)
        blocks.add(block)
        for row in wrapper["results"]:
            value = rpc.token_balance(row["contractAddress"], row["accountAddress"], block)
            assert row["balance"] == str(value) and value > 0
            seen.append((row["contractAddress"], row["accountAddress"]))
        page = answer["page"]
        if not page["more"]:
            break
    (block,) = blocks  # the chain did not move during the test
    pairs = transfer_pairs(rpc, block)
    expected = {
        (lower(c), lower(a))
        for c in contracts
        for a in pairs[checksum(c)]
        if rpc.token_balance(c, a, block) > 0
    }
    assert len(seen) == len(set(seen)) and set(seen) == expected
    # contractStatus applies: VERIFIED (the default) leaves the unlisted contract out.
    verified = gw.ok("GetTokenBalancesByContract", {"filter": {"contractAddresses": contracts}})
    assert {r["contractAddress"] for r in one_chain(verified["balances"])["results"]} == {
        lower(contracts[0])
    }


def test_by_contract_for_accounts(gw: Gateway, rpc: JsonRpc, devnet: Devnet) -> None:
    token = devnet.tracked[1].address
    accounts = devnet.workload.accounts
    answer = gw.ok(
        "GetTokenBalancesByContract",
        {"filter": {"contractAddresses": [token], "accountAddresses": accounts}},
    )
    wrapper = one_chain(answer["balances"])
    block = check_pinned(rpc, wrapper, devnet)
    expected = {lower(a) for a in accounts if rpc.token_balance(token, a, block) > 0}
    assert expected
    assert {r["accountAddress"] for r in wrapper["results"]} == expected
    for row in wrapper["results"]:
        assert row["contractAddress"] == lower(token)
        assert row["balance"] == str(rpc.token_balance(token, row["accountAddress"], block))


# -- balance updates -----------------------------------------------------------------------


def balance_updates(gw: Gateway, body: dict[str, Any]) -> tuple[list[dict[str, Any]], Any]:
    """Every page from ``body``; the rows and the last page's wrapper."""
    rows: list[dict[str, Any]] = []
    page: dict[str, Any] = body.pop("page", {})
    while True:
        answer = gw.ok("GetBalanceUpdates", {**body, "page": page})
        wrapper = one_chain(answer["balances"])
        rows.extend(wrapper["results"])
        page = answer["page"]
        if not page["more"]:
            return rows, wrapper


def test_balance_updates_from_zero_pages_every_holder_once(
    gw: Gateway, rpc: JsonRpc, devnet: Devnet
) -> None:
    token = devnet.tracked[0].address
    rows, last = balance_updates(
        gw, {"contractAddress": token, "lastBlockNumber": 0, "page": {"pageSize": 4}}
    )
    block = check_pinned(rpc, last, devnet)
    accounts = [r["accountAddress"] for r in rows]
    assert len(accounts) == len(set(accounts))  # each exactly once
    participants = transfer_pairs(rpc, block)[checksum(token)]
    assert ZERO in participants and ZERO.lower() not in accounts  # mints' sender holds nothing
    assert set(accounts) == {lower(a) for a in participants - {ZERO}}
    assert len(rows) > 8  # several pages
    for row in rows:
        assert row["balance"] == str(rpc.token_balance(token, row["accountAddress"], block))
        assert block_hash(rpc, row["blockNumber"]) == row["blockHash"]
        assert "contractInfo" not in row
    # Zero balances included: exactly the participants holding nothing now, per balanceOf.
    empty = {lower(a) for a in participants - {ZERO} if rpc.token_balance(token, a, block) == 0}
    assert {r["accountAddress"] for r in rows if r["balance"] == "0"} == empty
    numbers = [r["blockNumber"] for r in rows]
    assert numbers == sorted(numbers)


def test_balance_updates_resume_from_a_cursor(gw: Gateway, rpc: JsonRpc, devnet: Devnet) -> None:
    token = devnet.tracked[0].address
    rows, last = balance_updates(gw, {"contractAddress": token})
    cut = rows[len(rows) // 2]
    resumed, wrapper = balance_updates(
        gw,
        {
            "chainIds": [CHAIN_ID],
            "contractAddress": token,
            "lastBlockNumber": cut["blockNumber"],
            "lastBlockHash": cut["blockHash"],
            "page": {"pageSize": 2},
        },
    )
    block = check_pinned(rpc, wrapper, devnet)
    logs = rpc(
        "eth_getLogs",
        {
            "fromBlock": hex(cut["blockNumber"] + 1),
            "toBlock": hex(block),
            "address": token,
            "topics": [TRANSFER_TOPIC],
        },
    )
    changed = {"0x" + t[-40:] for log in logs for t in log["topics"][1:3]}
    assert changed and {r["accountAddress"] for r in resumed} == changed
    assert len(resumed) == len(changed)
    assert resumed == [r for r in rows if r["blockNumber"] > cut["blockNumber"]]
    # From the block of the last answer: nothing changed since.
    since = gw.ok(
        "GetBalanceUpdates",
        {
            "contractAddress": token,
            "lastBlockNumber": last["blockNumber"],
            "lastBlockHash": last["blockHash"],
        },
    )
    assert one_chain(since["balances"])["results"] == []


def test_balance_updates_cursor_errors(gw: Gateway, rpc: JsonRpc, devnet: Devnet) -> None:
    token = devnet.tracked[0].address
    middle = (devnet.workload.first_block + devnet.workload.last_block) // 2
    missing = gw.error(
        "GetBalanceUpdates",
        {"contractAddress": token, "lastBlockNumber": middle},
        400,
        "InvalidArgument",
    )
    assert missing["code"] == 2001 and "lastBlockHash is missing" in missing["cause"]
    wrong = gw.error(
        "GetBalanceUpdates",
        {"contractAddress": token, "lastBlockNumber": middle, "lastBlockHash": "0x" + "ab" * 32},
        400,
        "InvalidArgument",
    )
    assert "lastBlockHash mismatch" in wrong["cause"]
    assert block_hash(rpc, middle) in wrong["cause"]  # the canonical hash, to compare
    for body, words in (
        ({"contractAddress": token, "lastBlockNumber": -1}, "negative"),
        ({"contractAddress": token, "lastBlockNumber": 5, "lastBlockHash": "0x12"}, "32 bytes"),
        ({"contractAddress": "0x1234"}, "contractAddress"),
        ({}, "contractAddress is required"),
        ({"contractAddress": token, "page": {"after": "nonsense"}}, "page.after"),
        ({"contractAddress": token, "page": {"after": 7}}, "page.after"),
        ({"contractAddress": token, "page": {"page": 3}}, "page.after"),
    ):
        error = gw.error("GetBalanceUpdates", body, 400, "InvalidArgument")
        assert words in error["cause"], (body, error)


# -- native balance, chains, status --------------------------------------------------------


def test_native_token_balance(gw: Gateway, rpc: JsonRpc, devnet: Devnet) -> None:
    for account in devnet.workload.accounts[:8]:
        answer = gw.ok("GetNativeTokenBalance", {"accountAddress": account.lower()})
        (wrapper,) = answer["balances"]
        assert wrapper["chainId"] == CHAIN_ID and "errorReason" not in wrapper
        block = wrapper["blockNumber"]
        assert block_hash(rpc, block) == wrapper["blockHash"]
        result = wrapper["result"]
        assert result["accountAddress"] == account.lower()
        assert result["balance"] == str(rpc.balance(account, block))


def test_chains_ping_version_runtime_status(
    gw: Gateway, indexed_node: IndexedNode, devnet: Devnet
) -> None:
    assert gw.ok("GetChains", {}) == {"chains": [{"chainId": CHAIN_ID, "chainName": "devnet"}]}
    assert gw.send("Ping", "null").body == {"status": True}  # the Go client's body
    assert gw.send("Ping", "").body == {"status": True}
    version = gw.ok("Version", {})["version"]
    assert version["webrpcVersion"] == "v1" and version["appVersion"].startswith("rosetta-node")
    status = gw.ok("RuntimeStatus", {})["status"]
    assert status["healthOK"] is True
    (backend,) = status["backends"]
    assert backend["chainId"] == CHAIN_ID and backend["connected"] is True
    assert backend["indexedBlockNumber"] >= devnet.workload.last_block


# -- request shapes ------------------------------------------------------------------------


def test_upstream_request_shapes_are_accepted(gw: Gateway, devnet: Devnet) -> None:
    token = devnet.tracked[0].address.lower()
    holdings = summary(gw, devnet.workload.accounts)  # VERIFIED by default
    account = one_chain(holdings["balances"])["results"][0]["accountAddress"]
    # indexer.openapi.json examples (our contract and account instead of theirs).
    gw.ok("GetBalanceUpdates", {"contractAddress": token, "lastBlockNumber": 0})
    gw.ok("GetNativeTokenBalance", {"accountAddress": account})
    # The vendor docs' gateway examples.
    gw.ok("GetBalanceUpdates", {"chainIds": [CHAIN_ID], "contractAddress": token})
    gw.ok(
        "GetTokenBalancesSummary",
        {
            "networks": ["devnet"],
            "filter": {"accountAddresses": [account], "contractStatus": "VERIFIED"},
            "omitMetadata": False,
        },
    )
    gw.ok(
        "GetTokenBalancesDetails",
        {
            "filter": {
                "accountAddresses": [account],
                "contractStatus": "ALL",
                "contractWhitelist": [token],
                "omitNativeBalances": True,
            }
        },
    )
    # What go-sequence's IndexerGatewayClient marshals: nulls for nil slices and pointers.
    go_body = {
        "chainIds": None,
        "networks": None,
        "networkType": None,
        "filter": {
            "accountAddresses": [account],
            "contractStatus": "",
            "contractTypes": None,
            "contractWhitelist": None,
            "contractBlacklist": None,
        },
        "omitMetadata": None,
        "page": None,
    }
    answer = gw.ok("GetTokenBalancesSummary", go_body)
    assert one_chain(answer["balances"])["results"]
    gw.ok(
        "GetBalanceUpdates",
        {
            "chainIds": [CHAIN_ID],
            "networks": None,
            "networkType": "MAINNETS",
            "contractAddress": token,
            "lastBlockNumber": 0,
            "lastBlockHash": None,
            "page": None,
        },
    )
    gw.ok("GetChains", {"networkType": None})
    gw.ok("GetNativeTokenBalance", {"chainIds": [CHAIN_ID], "accountAddress": account})
    gw.ok("GetNativeTokenBalance", {"networks": ["Ethereum/devnet"], "accountAddress": account})


def test_webrpc_errors_for_bad_requests(gw: Gateway, devnet: Devnet) -> None:
    account = devnet.workload.accounts[1]
    answer = gw.post("NoSuchMethod", {})
    assert (answer.status, answer.body["error"], answer.body["code"]) == (404, "WebrpcBadRoute", -2)
    for path in ("/rpc/Indexer/GetTokenBalancesSummary", "/rpc/%0A%C2%89/b", PREFIX + "Ping%0A"):
        answer = gw.post(path, {})
        assert (answer.status, answer.body["error"]) == (404, "WebrpcBadRoute"), path
    for verb in ("PUT", "DELETE", "TRACE", "PROPFIND"):
        answer = gw.send("GetChains", "{}", http_method=verb)
        assert (answer.status, answer.body["error"]) == (405, "WebrpcBadMethod"), verb
    answer = gw.send("Ping", "", http_method="GET")
    assert (answer.status, answer.body["error"], answer.body["code"]) == (
        405,
        "WebrpcBadMethod",
        -3,
    )
    for data in ("{not json", "[1, 2", '{"accountAddress": 5}', '"text"', '{"chainIds": "1"}'):
        answer = gw.send("GetNativeTokenBalance", data)
        assert (answer.status, answer.body["error"]) == (400, "WebrpcBadRequest"), data
    too_big = json.dumps({"accountAddress": account, "pad": "x" * 1_100_000})
    answer = gw.send("GetNativeTokenBalance", too_big)
    assert (answer.status, answer.body["error"]) == (400, "WebrpcBadRequest")
    for body in (
        {"accountAddress": "0x12"},
        {"accountAddress": account, "chainIds": [1]},
        {"accountAddress": account, "networks": ["mainnet"]},
        {},
    ):
        error = gw.error("GetNativeTokenBalance", body, 400, "InvalidArgument")
        assert error["code"] == 2001 and error["cause"]
    bad_filters: list[dict[str, Any]] = [
        {"accountAddresses": []},
        {"accountAddresses": ["0xnope"]},
        {"accountAddresses": [account], "contractStatus": "BOGUS"},
        {"accountAddresses": [account], "contractTypes": ["ERC9999"]},
        {"accountAddresses": [account], "contractWhitelist": ["0x1"]},
        {"accountAddresses": [account] * 101},
    ]
    for filter_ in bad_filters:
        gw.error("GetTokenBalancesSummary", {"filter": filter_}, 400, "InvalidArgument")
    gw.error("GetTokenBalancesSummary", {}, 400, "InvalidArgument")
    gw.error("GetTokenBalancesByContract", {"filter": {}}, 400, "InvalidArgument")


# -- a second node: keys, rate limits, a failing chain ---------------------------------------


@pytest.fixture(scope="module")
def keyed_node(anvil: Anvil, devnet: Devnet) -> Iterator[NodeProcess]:
    process = NodeProcess(
        ["--rpc-url", anvil.url, "--chain-id", str(CHAIN_ID)],
        env={
            "ROSETTA_NODE_API_KEYS": "key-one-secret,key-two-secret",
            "ROSETTA_NODE_RATE_LIMIT_PER_MINUTE": "3",
            **TRANSLATORS_ONLY,
        },
    )
    try:
        process.wait()
        yield process
    finally:
        process.stop()


def test_access_keys(keyed_node: NodeProcess) -> None:
    anonymous = Gateway(keyed_node.url)
    error = anonymous.error("Version", {}, 401, "Unauthorized")
    assert error["code"] == 1000
    wrong = Gateway(keyed_node.url, key="guessed-key-material")
    error = wrong.error("Version", {}, 401, "AccessKeyNotFound")
    assert error["code"] == 1101 and "guessed" not in json.dumps(error)
    assert Gateway(keyed_node.url, key="key-one-secret").ok("Version", {})["version"]


def test_rate_limit_per_key(keyed_node: NodeProcess) -> None:
    first = Gateway(keyed_node.url, key="key-two-secret")
    answers = [first.post("Ping", {}) for _ in range(5)]
    limited = [a for a in answers if a.status == 429]
    assert limited and [a.status for a in answers[: 5 - len(limited)]] == [200] * (5 - len(limited))
    body = limited[0].body
    assert (body["error"], body["code"]) == ("RateLimited", 1007)
    assert int(limited[0].headers["Retry-After"]) >= 1
    # Another key has its own budget.
    assert Gateway(keyed_node.url, key="key-one-secret").post("Ping", {}).status == 200


def wait_indexed(url: str, network: str, block: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = requests.get(url + "/readyz", timeout=5).json()
        (entry,) = [n for n in body["networks"] if n["network"] == network]
        indexed = entry.get("index", {}).get("block")
        if indexed is not None and indexed >= block:
            return
        time.sleep(0.2)
    raise RuntimeError(f"index of {network} did not reach block {block}")


@pytest.fixture(scope="module")
def two_chain_node(
    anvil: Anvil, devnet: Devnet, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NodeProcess]:
    base = tmp_path_factory.mktemp("two-chains")
    process = NodeProcess(
        [],
        env={
            "ROSETTA_NODE_NETWORKS_0_RPC_URL": anvil.url,
            "ROSETTA_NODE_NETWORKS_0_CHAIN_ID": str(CHAIN_ID),
            "ROSETTA_NODE_NETWORKS_0_TOKEN_LIST": str(devnet.token_list),
            "ROSETTA_NODE_NETWORKS_0_INDEX_DB": str(Path(base) / "devnet.sqlite"),
            "ROSETTA_NODE_NETWORKS_0_INDEX_POLL_INTERVAL": "0.2",
            # Nothing listens here: this chain always fails.
            "ROSETTA_NODE_NETWORKS_1_RPC_URL": f"http://127.0.0.1:{free_port()}",
            "ROSETTA_NODE_NETWORKS_1_CHAIN_ID": "999",
            "ROSETTA_NODE_NETWORKS_1_NETWORK": "deadnet",
            "ROSETTA_NODE_NETWORKS_1_RPC_TIMEOUT": "1",
            "ROSETTA_NODE_NETWORKS_1_RPC_RETRIES": "0",
            "ROSETTA_NODE_NETWORKS_1_INDEX_DB": str(Path(base) / "dead.sqlite"),
        },
    )
    try:
        process.wait()
        wait_indexed(process.url, "Ethereum/devnet", devnet.workload.last_block)
        yield process
    finally:
        process.stop()


def test_a_failing_chain_gives_its_error_reason(
    two_chain_node: NodeProcess, rpc: JsonRpc, devnet: Devnet
) -> None:
    gw = Gateway(two_chain_node.url)
    chains = gw.ok("GetChains", {})["chains"]
    assert {(c["chainId"], c["chainName"]) for c in chains} == {
        (CHAIN_ID, "devnet"),
        (999, "deadnet"),
    }
    # An account holding tokens (from the devnet's Transfer logs and balanceOf).
    token = devnet.tracked[0].address
    head = int(rpc("eth_blockNumber"), 16)
    account = next(
        a
        for a in sorted(transfer_pairs(rpc, head)[checksum(token)])
        if rpc.token_balance(token, a, head) > 0
    )
    answer = gw.ok(
        "GetTokenBalancesSummary",
        {"filter": {"accountAddresses": [account], "contractStatus": "ALL"}},
    )
    by_chain = {w["chainId"]: w for w in answer["balances"]}
    natives = {w["chainId"]: w for w in answer["nativeBalances"]}
    assert set(by_chain) == set(natives) == {CHAIN_ID, 999}
    assert by_chain[999]["errorReason"] and by_chain[999]["results"] == []
    assert natives[999]["errorReason"] and natives[999]["results"] == []
    good = by_chain[CHAIN_ID]
    block = check_pinned(rpc, good, devnet)
    assert good["results"]
    for row in good["results"]:
        assert row["balance"] == str(rpc.token_balance(row["contractAddress"], account, block))
    assert lower(token) in {r["contractAddress"] for r in good["results"]}
    (native,) = natives[CHAIN_ID]["results"]
    assert native["balance"] == str(rpc.balance(account, block))
    # Single result per chain: the same.
    balances = gw.ok("GetNativeTokenBalance", {"accountAddress": account})["balances"]
    failed = [b for b in balances if b["chainId"] == 999]
    assert failed[0]["errorReason"] and failed[0]["result"] is None
    # GetBalanceUpdates reads one chain: it must be named, and node trouble fails the call.
    gw.error("GetBalanceUpdates", {"contractAddress": token}, 400, "InvalidArgument")
    error = gw.post("GetBalanceUpdates", {"chainIds": [999], "contractAddress": token}).body
    assert error["status"] in (408, 500) and error["cause"]
    ok = gw.ok("GetBalanceUpdates", {"networks": ["devnet"], "contractAddress": token})
    assert one_chain(ok["balances"])["results"]
    status = gw.ok("RuntimeStatus", {})["status"]
    assert status["healthOK"] is False
    dead = [b for b in status["backends"] if b["chainId"] == 999]
    assert dead[0]["connected"] is False and dead[0]["problems"]
