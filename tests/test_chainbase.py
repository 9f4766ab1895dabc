"""The Chainbase Web3 API translator (``GET /v1/...``) against anvil, through a real node process.

Every figure is compared with anvil at the block the answer names (``block_number``, whose
hash must be ``block_hash``); token and holder lists with what anvil's Transfer logs imply up
to that block. Every response, errors included, is validated against specs/chainbase.yaml.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from rosetta_node.addresses import checksum
from rosetta_node.devnet import Anvil, free_port
from tests.conftest import CHAIN_ID, TRANSLATORS_ONLY, Devnet, IndexedNode, JsonRpc, NodeProcess
from tests.fault_proxy import FaultProxy
from tests.spec_check import load_spec, validate_response
from tests.test_token_service import transfer_pairs

SPEC = "chainbase.yaml"
ZERO = "0x0000000000000000000000000000000000000000"
TOTAL_SUPPLY = "0x18160ddd"
# From the upstream OpenAPI examples (cb_balance_api.json, cb_token_api.json).
UPSTREAM_ADDRESS = "0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045"
UPSTREAM_CONTRACT = "0x7d1afa7b718fb893db30a3abc0cfc608aacfebb0"
UPSTREAM_CONTRACTS = (
    "0xdac17f958d2ee523a2206206994597c13d831ec7,0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
)


@dataclass
class Answer:
    status: int
    body: Any
    headers: Any


class Chainbase:
    """GETs our node's /v1 routes; every answer is checked against specs/chainbase.yaml."""

    def __init__(self, url: str, key: str | None = None) -> None:
        self.url = url
        self.key = key
        self.session = requests.Session()

    def request(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        method: str = "GET",
        headers: dict[str, str] | None = None,
    ) -> Answer:
        sent = dict(headers or {})
        if self.key is not None:
            sent.setdefault("x-api-key", self.key)
        answer = self.session.request(
            method, self.url + path, params=params, headers=sent, timeout=60
        )
        assert answer.headers["content-type"].startswith("application/json"), answer.text
        body = answer.json()
        # Unknown routes and other methods answer in the shape every route documents.
        spec_path = path if path in load_spec(SPEC)["paths"] else "/v1/account/tokens"
        validate_response(spec_path, answer.status_code, body, spec=SPEC, method="get")
        if answer.status_code != 200:
            assert body["code"] == answer.status_code, body
        return Answer(answer.status_code, body, answer.headers)

    def ok(self, path: str, params: dict[str, Any]) -> Any:
        answer = self.request(path, {"chain_id": CHAIN_ID, **params})
        assert answer.status == 200, (path, params, answer.body)
        assert answer.body["code"] == 0 and answer.body["message"] == "ok"
        return answer.body

    def error(self, path: str, params: dict[str, Any], status: int) -> str:
        answer = self.request(path, params)
        assert answer.status == status, (path, params, answer.body)
        return str(answer.body["message"])

    def pages(self, path: str, params: dict[str, Any], limit: int) -> tuple[list[Any], int, Any]:
        """Every page of a paged route at one block: (rows, count, first answer)."""
        first = self.ok(path, {**params, "limit": limit})
        pinned = {**params, "limit": limit, "to_block": first["block_number"]}
        rows, answer, page = list(first["data"]), first, 1
        while "next_page" in answer:
            assert answer["next_page"] == page + 1
            assert len(answer["data"]) == limit  # only the last page may be short
            page = answer["next_page"]
            answer = self.ok(path, {**pinned, "page": page})
            assert answer["block_number"] == first["block_number"]
            assert answer["count"] == first["count"]
            rows.extend(answer["data"])
        assert len(rows) == first["count"]
        return rows, first["count"], first


@pytest.fixture(scope="module")
def cb(indexed_node: IndexedNode) -> Chainbase:
    return Chainbase(indexed_node.url)


def pinned_block(rpc: JsonRpc, body: Any) -> int:
    """The answer's block number, after checking that its hash is anvil's at that number."""
    number = body["block_number"]
    assert rpc("eth_getBlockByNumber", hex(number), False)["hash"] == body["block_hash"]
    return int(number)


def total_supply(rpc: JsonRpc, token: str, block: int) -> int:
    return int(rpc("eth_call", {"to": token, "data": TOTAL_SUPPLY}, hex(block)), 16)


def middle_block(devnet: Devnet) -> int:
    return (devnet.workload.first_block + devnet.workload.last_block) // 2


def all_tokens(devnet: Devnet) -> list[str]:
    return [checksum(t.address) for t in devnet.workload.tokens]


# -- /v1/account/tokens ------------------------------------------------------------------------


def check_account_tokens(
    cb: Chainbase, rpc: JsonRpc, devnet: Devnet, to_block: int | str | None, limit: int
) -> int:
    listed = {checksum(t.address): t for t in devnet.tracked}
    checked = 0
    logs: dict[int, dict[str, set[str]]] = {}
    for account in devnet.workload.accounts:
        params: dict[str, Any] = {"address": account}
        if to_block is not None:
            params["to_block"] = to_block
        rows, count, first = cb.pages("/v1/account/tokens", params, limit)
        block = pinned_block(rpc, first)
        if block not in logs:
            logs[block] = transfer_pairs(rpc, block)
        expected = {c for c, who in logs[block].items() if account in who}
        got = [checksum(r["contract_address"]) for r in rows]
        assert len(got) == len(set(got)) == count  # every token exactly once over the pages
        assert set(got) == expected, account
        assert [r["contract_address"] for r in rows] == sorted(r["contract_address"] for r in rows)
        for row in rows:
            token = checksum(row["contract_address"])
            assert row["contract_address"] == token.lower()
            assert int(row["balance"], 16) == rpc.token_balance(token, account, block), row
            assert int(row["total_supply"], 16) == total_supply(rpc, token, block)
            if token in listed:
                meta = listed[token]
                assert (row["name"], row["symbol"], row["decimals"]) == (
                    meta.name,
                    meta.symbol,
                    meta.decimals,
                )
            checked += 1
    return checked


def test_account_tokens_equal_transfer_logs_and_balance_of(
    cb: Chainbase, rpc: JsonRpc, devnet: Devnet
) -> None:
    checked = check_account_tokens(cb, rpc, devnet, None, limit=2)
    assert checked > 20


def test_account_tokens_include_zero_balances(cb: Chainbase, rpc: JsonRpc, devnet: Devnet) -> None:
    """Upstream lists every token the address ever received: emptied ones too (balance 0x0)."""
    zeros = 0
    for account in devnet.workload.accounts:
        body = cb.ok("/v1/account/tokens", {"address": account, "limit": 100})
        zeros += sum(1 for row in body["data"] if row["balance"] == "0x0")
    assert zeros > 0, "the workload empties some balances (burns, transfers out)"


@pytest.mark.parametrize("form", ["decimal", "hex"])
def test_historical_account_tokens(cb: Chainbase, rpc: JsonRpc, devnet: Devnet, form: str) -> None:
    middle = middle_block(devnet)
    to_block = str(middle) if form == "decimal" else hex(middle).upper()  # 0X1A2B
    check_account_tokens(cb, rpc, devnet, to_block, limit=3)
    body = cb.ok(
        "/v1/account/tokens", {"address": devnet.workload.accounts[1], "to_block": to_block}
    )
    assert body["block_number"] == middle


def test_account_tokens_contract_filter(cb: Chainbase, rpc: JsonRpc, devnet: Devnet) -> None:
    pairs = transfer_pairs(rpc, devnet.workload.last_block)
    token = checksum(devnet.tracked[0].address)
    holder = next(a for a in sorted(pairs[token]) if a != ZERO)
    stranger = "0x" + "5a" * 20  # never touched any token
    others = [t for t in all_tokens(devnet) if t != token]
    # Upper-case 0X, spaces after commas, a repeat, and an address that is no contract.
    wanted = f"0X{token[2:].upper()}, {others[0].lower()},{token},{UPSTREAM_ADDRESS}"
    for account in (holder, stranger):
        body = cb.ok("/v1/account/tokens", {"address": account, "contract_address": wanted})
        block = pinned_block(rpc, body)
        got = {checksum(r["contract_address"]): int(r["balance"], 16) for r in body["data"]}
        # Both tokens are asked even where the index never saw the account (zero balances).
        assert set(got) == {token, others[0]} and body["count"] == 2
        for contract, balance in got.items():
            assert balance == rpc.token_balance(contract, account, block)
    assert cb.ok("/v1/account/tokens", {"address": holder, "contract_address": token})["count"] == 1


# -- /v1/account/balance -----------------------------------------------------------------------


def test_native_balance_now_and_at_blocks(cb: Chainbase, rpc: JsonRpc, devnet: Devnet) -> None:
    middle = middle_block(devnet)
    for account in devnet.workload.accounts:
        now = cb.ok("/v1/account/balance", {"address": account})
        assert int(now["data"], 16) == rpc.balance(account, pinned_block(rpc, now))
        latest = cb.ok("/v1/account/balance", {"address": account.lower(), "to_block": "latest"})
        assert int(latest["data"], 16) == rpc.balance(account, pinned_block(rpc, latest))
        for to_block in (str(middle), hex(middle), devnet.workload.first_block - 1):
            past = cb.ok("/v1/account/balance", {"address": account, "to_block": to_block})
            assert past["block_number"] == int(str(to_block), 0)
            assert int(past["data"], 16) == rpc.balance(account, pinned_block(rpc, past))
    genesis = cb.ok("/v1/account/balance", {"address": devnet.workload.accounts[1], "to_block": 0})
    assert pinned_block(rpc, genesis) == 0


# -- /v1/token/metadata ------------------------------------------------------------------------


def test_token_metadata(cb: Chainbase, rpc: JsonRpc, devnet: Devnet) -> None:
    middle = middle_block(devnet)
    for token in devnet.workload.tokens:
        body = cb.ok("/v1/token/metadata", {"contract_address": token.address})
        block = pinned_block(rpc, body)
        data = body["data"]
        assert data["contract_address"] == token.address.lower()
        assert (data["name"], data["symbol"], data["decimals"]) == (
            token.name,
            token.symbol,
            token.decimals,
        )
        assert int(data["total_supply"], 16) == total_supply(rpc, token.address, block)
        past = cb.ok("/v1/token/metadata", {"contract_address": token.address, "to_block": middle})
        assert pinned_block(rpc, past) == middle
        assert int(past["data"]["total_supply"], 16) == total_supply(rpc, token.address, middle)
    message = cb.error(
        "/v1/token/metadata", {"chain_id": CHAIN_ID, "contract_address": UPSTREAM_CONTRACT}, 404
    )
    assert "contract_address" in message


# -- /v1/token/holders and /v1/token/top-holders --------------------------------------------------


@pytest.mark.parametrize("limit", [1, 3, 100])
def test_holders_page_through_every_participant_once(
    cb: Chainbase, rpc: JsonRpc, devnet: Devnet, limit: int
) -> None:
    for token in all_tokens(devnet):
        rows, count, first = cb.pages("/v1/token/holders", {"contract_address": token}, limit)
        block = pinned_block(rpc, first)
        expected = transfer_pairs(rpc, block)[token] - {ZERO}  # the zero address holds nothing
        assert ZERO not in rows
        assert len(rows) == len(set(rows)) == count == len(expected)
        assert {checksum(r) for r in rows} == expected
        assert all(r == r.lower() for r in rows)


def test_holders_at_a_past_block_and_beyond_the_last_page(
    cb: Chainbase, rpc: JsonRpc, devnet: Devnet
) -> None:
    middle = middle_block(devnet)
    token = checksum(devnet.tracked[0].address)
    rows, count, first = cb.pages(
        "/v1/token/holders", {"contract_address": token, "to_block": middle}, 2
    )
    assert pinned_block(rpc, first) == middle
    assert {checksum(r) for r in rows} == transfer_pairs(rpc, middle).get(token, set()) - {ZERO}
    beyond = cb.ok(
        "/v1/token/holders", {"contract_address": token, "page": count + 5, "limit": 100}
    )
    assert beyond["data"] == [] and "next_page" not in beyond and beyond["count"] >= count


def test_top_holders_ranked_by_balance_of(cb: Chainbase, rpc: JsonRpc, devnet: Devnet) -> None:
    middle = middle_block(devnet)
    for token in devnet.workload.tokens:
        address = checksum(token.address)
        for to_block in (None, middle):
            params: dict[str, Any] = {"contract_address": address}
            if to_block is not None:
                params["to_block"] = to_block
            rows, count, first = cb.pages("/v1/token/top-holders", params, 2)
            block = pinned_block(rpc, first)
            balances = {
                a: rpc.token_balance(address, a, block)
                for a in transfer_pairs(rpc, block).get(address, set())
            }
            holding = {a: b for a, b in balances.items() if b > 0}
            assert {checksum(r["wallet_address"]) for r in rows} == set(holding)
            assert count == len(holding)
            amounts = [int(r["original_amount"]) for r in rows]
            assert amounts == sorted(amounts, reverse=True)
            for row in rows:
                raw = int(row["original_amount"])
                assert raw == holding[checksum(row["wallet_address"])]
                whole, _, frac = row["amount"].partition(".")
                assert int(whole + frac.ljust(token.decimals, "0")) == raw


# -- upstream request shapes, envelope, errors ------------------------------------------------


def test_upstream_example_requests_are_accepted(cb: Chainbase, rpc: JsonRpc) -> None:
    demo = {"x-api-key": "demo"}  # upstream's example key: any key is fine without keys set
    for path, params in (
        ("/v1/account/balance", {"address": UPSTREAM_ADDRESS, "to_block": "latest"}),
        ("/v1/account/tokens", {"address": UPSTREAM_ADDRESS}),
        (
            "/v1/account/tokens",
            {"address": UPSTREAM_ADDRESS, "contract_address": UPSTREAM_CONTRACT},
        ),
        (
            "/v1/account/tokens",
            {"address": UPSTREAM_ADDRESS, "contract_address": UPSTREAM_CONTRACTS},
        ),
        ("/v1/account/tokens", {"address": UPSTREAM_ADDRESS, "limit": 20, "page": 1}),
        ("/v1/token/holders", {"contract_address": UPSTREAM_CONTRACT, "page": 1, "limit": 20}),
        ("/v1/token/top-holders", {"contract_address": UPSTREAM_CONTRACT, "page": 1, "limit": 20}),
    ):
        answer = cb.request(path, {"chain_id": str(CHAIN_ID), **params}, headers=demo)
        assert answer.status == 200, (path, answer.body)
        body = answer.body
        pinned_block(rpc, body)
        if path == "/v1/account/balance":
            assert int(body["data"], 16) == rpc.balance(UPSTREAM_ADDRESS, body["block_number"])
        else:  # these addresses never touched a token on the devnet
            assert body["data"] == [] and body["count"] == 0 and "next_page" not in body


BAD_REQUESTS: list[tuple[str, dict[str, Any], int, str]] = [
    ("/v1/account/tokens", {"address": UPSTREAM_ADDRESS}, 422, "chain_id"),
    ("/v1/account/tokens", {"chain_id": "eth", "address": UPSTREAM_ADDRESS}, 422, "chain_id"),
    ("/v1/account/tokens", {"chain_id": "-1", "address": UPSTREAM_ADDRESS}, 422, "chain_id"),
    ("/v1/account/tokens", {"chain_id": "1", "address": UPSTREAM_ADDRESS}, 400, "chain_id"),
    ("/v1/account/balance", {"chain_id": "56", "address": UPSTREAM_ADDRESS}, 400, "chain_id"),
    ("/v1/account/tokens", {"chain_id": CHAIN_ID}, 422, "address"),
    ("/v1/account/tokens", {"chain_id": CHAIN_ID, "address": "0x1234"}, 422, "address"),
    (
        "/v1/account/tokens",
        {"chain_id": CHAIN_ID, "address": "d8dA6BF26964aF9D7eEd9e03E53415D37aA96045"},
        422,
        "address",
    ),  # noqa: E501
    ("/v1/account/tokens", {"chain_id": CHAIN_ID, "address": "0x" + "g" * 40}, 422, "address"),
    (
        "/v1/account/balance",
        {"chain_id": CHAIN_ID, "address": UPSTREAM_ADDRESS + "00"},
        422,
        "address",
    ),  # noqa: E501
    (
        "/v1/account/tokens",
        {
            "chain_id": CHAIN_ID,
            "address": UPSTREAM_ADDRESS,
            "contract_address": ",".join([UPSTREAM_CONTRACT] * 101),
        },
        422,
        "contract_address",
    ),  # noqa: E501
    (
        "/v1/account/tokens",
        {
            "chain_id": CHAIN_ID,
            "address": UPSTREAM_ADDRESS,
            "contract_address": UPSTREAM_CONTRACT + ",0x12",
        },
        422,
        "contract_address",
    ),  # noqa: E501
    (
        "/v1/account/tokens",
        {"chain_id": CHAIN_ID, "address": UPSTREAM_ADDRESS, "limit": 0},
        422,
        "limit",
    ),  # noqa: E501
    (
        "/v1/account/tokens",
        {"chain_id": CHAIN_ID, "address": UPSTREAM_ADDRESS, "limit": 101},
        422,
        "limit",
    ),  # noqa: E501
    (
        "/v1/token/holders",
        {"chain_id": CHAIN_ID, "contract_address": UPSTREAM_CONTRACT, "limit": "ten"},
        422,
        "limit",
    ),  # noqa: E501
    (
        "/v1/token/top-holders",
        {"chain_id": CHAIN_ID, "contract_address": UPSTREAM_CONTRACT, "page": 0},
        422,
        "page",
    ),  # noqa: E501
    (
        "/v1/token/holders",
        {"chain_id": CHAIN_ID, "contract_address": UPSTREAM_CONTRACT, "page": "1.5"},
        422,
        "page",
    ),  # noqa: E501
    ("/v1/token/metadata", {"chain_id": CHAIN_ID}, 422, "contract_address"),
    (
        "/v1/token/metadata",
        {"chain_id": CHAIN_ID, "contract_address": UPSTREAM_CONTRACTS},
        422,
        "contract_address",
    ),  # noqa: E501
    (
        "/v1/account/balance",
        {"chain_id": CHAIN_ID, "address": UPSTREAM_ADDRESS, "to_block": "soon"},
        422,
        "to_block",
    ),  # noqa: E501
    (
        "/v1/account/balance",
        {"chain_id": CHAIN_ID, "address": UPSTREAM_ADDRESS, "to_block": "-5"},
        422,
        "to_block",
    ),  # noqa: E501
    (
        "/v1/account/tokens",
        {"chain_id": CHAIN_ID, "address": UPSTREAM_ADDRESS, "to_block": "0xzz"},
        422,
        "to_block",
    ),  # noqa: E501
    (
        "/v1/token/holders",
        {"chain_id": CHAIN_ID, "contract_address": UPSTREAM_CONTRACT, "page": 2000, "limit": 100},
        400,
        "page",
    ),  # noqa: E501
]


@pytest.mark.parametrize(("path", "params", "status", "named"), BAD_REQUESTS)
def test_bad_requests_get_vendor_errors_naming_the_parameter(
    cb: Chainbase, path: str, params: dict[str, Any], status: int, named: str
) -> None:
    message = cb.error(path, params, status)
    assert named in message, message


def test_unknown_routes_and_methods(cb: Chainbase) -> None:
    for path in ("/v1/account/nfts", "/v1/nope", "/v1/token/metadata/extra"):
        answer = cb.request(path, {"chain_id": CHAIN_ID})
        assert answer.status == 404 and path in answer.body["message"]
    params = {"chain_id": CHAIN_ID, "address": UPSTREAM_ADDRESS}
    for method in ("POST", "PUT", "DELETE"):
        answer = cb.request("/v1/account/balance", params, method=method)
        assert answer.status == 405 and answer.headers["Allow"] == "GET"
        assert method in answer.body["message"]


def test_blocks_not_reached_yet_are_retriable_errors(cb: Chainbase, rpc: JsonRpc) -> None:
    ahead = int(rpc("eth_blockNumber"), 16) + 10**6
    for path, params in (
        ("/v1/account/balance", {"address": UPSTREAM_ADDRESS}),
        ("/v1/account/tokens", {"address": UPSTREAM_ADDRESS}),
        ("/v1/token/holders", {"contract_address": UPSTREAM_CONTRACT}),
        ("/v1/token/top-holders", {"contract_address": UPSTREAM_CONTRACT}),
        ("/v1/token/metadata", {"contract_address": UPSTREAM_CONTRACT}),
    ):
        answer = cb.request(path, {"chain_id": CHAIN_ID, "to_block": ahead, **params})
        assert answer.status == 503, (path, answer.body)
        assert answer.body["retriable"] is True
        assert int(answer.headers["Retry-After"]) >= 1


# -- API keys, rate limits, node trouble (their own node processes) -------------------------


@pytest.fixture
def node_with(anvil: Anvil, devnet: Devnet) -> Iterator[Any]:
    started: list[NodeProcess] = []

    def start(env: dict[str, str], rpc_url: str | None = None) -> NodeProcess:
        args = ["--rpc-url", rpc_url or anvil.url, "--chain-id", str(CHAIN_ID)]
        env = {**TRANSLATORS_ONLY, **env}
        process = NodeProcess([*args, "--token-list", str(devnet.token_list)], env=env)
        started.append(process)
        process.wait()
        return process

    yield start
    for process in started:
        process.stop()


def test_api_keys(node_with: Any, rpc: JsonRpc, devnet: Devnet) -> None:
    keys = ["alpha-Key-1", "beta-Key-2"]
    process = node_with({"ROSETTA_NODE_API_KEYS": ",".join(keys)})
    cb = Chainbase(process.url)
    params = {"chain_id": CHAIN_ID, "address": devnet.workload.accounts[1]}
    wrong = "alpha-Key-X"
    for headers in ({}, {"x-api-key": ""}, {"x-api-key": wrong}, {"x-api-key": keys[0].upper()}):
        answer = cb.request("/v1/account/balance", params, headers=headers)
        assert answer.status == 401 and "x-api-key" in answer.body["message"]
        assert not any(k in json.dumps(answer.body) for k in [*keys, wrong])
    for key in keys:
        answer = cb.request("/v1/account/balance", params, headers={"X-API-KEY": key})
        assert answer.status == 200
        assert int(answer.body["data"], 16) == rpc.balance(
            params["address"], pinned_block(rpc, answer.body)
        )
    # This node keeps no token index: the index routes say so (and which chain), 400.
    keyed = Chainbase(process.url, key=keys[0])
    message = keyed.error("/v1/account/tokens", params, 400)
    assert "index" in message and str(CHAIN_ID) in message
    token = {"chain_id": CHAIN_ID, "contract_address": devnet.tracked[0].address}
    assert "index" in keyed.error("/v1/token/holders", token, 400)
    # Routes without the index still answer.
    assert keyed.request("/v1/token/metadata", token).status == 200


def test_rate_limit_per_key_with_retry_after(node_with: Any, devnet: Devnet) -> None:
    process = node_with(
        {"ROSETTA_NODE_API_KEYS": "alpha,beta", "ROSETTA_NODE_RATE_LIMIT_PER_MINUTE": "3"}
    )
    params = {"chain_id": CHAIN_ID, "address": devnet.workload.accounts[1]}
    alpha, beta = Chainbase(process.url, key="alpha"), Chainbase(process.url, key="beta")
    assert [alpha.request("/v1/account/balance", params).status for _ in range(3)] == [200] * 3
    limited = alpha.request("/v1/account/balance", params)
    assert limited.status == 429 and limited.body["retriable"] is True
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert beta.request("/v1/account/balance", params).status == 200  # its own bucket
    # Without a valid key the client address is the bucket: 401s until it is spent too.
    anonymous = Chainbase(process.url)
    statuses = [anonymous.request("/v1/account/balance", params).status for _ in range(4)]
    assert statuses == [401, 401, 401, 429]


def test_one_rate_limit_across_both_vendor_apis(node_with: Any, devnet: Devnet) -> None:
    """A caller's requests count once, whichever translator API they use."""
    process = node_with(
        {"ROSETTA_NODE_API_KEYS": "alpha", "ROSETTA_NODE_RATE_LIMIT_PER_MINUTE": "3"}
    )
    params = {"chain_id": CHAIN_ID, "address": devnet.workload.accounts[1]}
    alpha = Chainbase(process.url, key="alpha")

    def ping() -> int:
        url = process.url + "/rpc/IndexerGateway/Ping"
        return requests.post(
            url, json={}, headers={"X-Access-Key": "alpha"}, timeout=10
        ).status_code

    assert [ping(), ping(), alpha.request("/v1/account/balance", params).status] == [200] * 3
    assert alpha.request("/v1/account/balance", params).status == 429
    assert ping() == 429


def test_unreachable_node_gives_retriable_errors_fast(
    node_with: Any, devnet: Devnet, tmp_path: Any
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    process = node_with({"ROSETTA_NODE_INDEX_DB": str(tmp_path / "index.sqlite")}, dead)
    cb = Chainbase(process.url)
    for path, params in (
        ("/v1/account/balance", {"address": UPSTREAM_ADDRESS}),
        ("/v1/account/tokens", {"address": UPSTREAM_ADDRESS}),
        ("/v1/token/metadata", {"contract_address": UPSTREAM_CONTRACT}),
        ("/v1/token/holders", {"contract_address": UPSTREAM_CONTRACT}),
        ("/v1/token/top-holders", {"contract_address": UPSTREAM_CONTRACT}),
    ):
        answer = cb.request(path, {"chain_id": CHAIN_ID, **params})
        assert answer.status == 503 and answer.body["retriable"] is True, (path, answer.body)
        assert answer.headers["Retry-After"] == "1"
        assert "Traceback" not in answer.body["message"]


def eventually_ok(cb: Chainbase, path: str, params: dict[str, Any], timeout: float = 30) -> Any:
    """The answer once the node is healthy again (it re-probes a node that failed)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = cb.request(path, params)
        if answer.status == 200 or time.monotonic() > deadline:
            assert answer.status == 200, (path, answer.body)
            return answer.body
        assert answer.status == 503, (path, answer.body)
        time.sleep(0.3)


@pytest.mark.parametrize("kind", ["garbage", "status", "batch_error", "delay"])
def test_node_faults_mid_answer_are_retriable_never_wrong(
    node_with: Any, anvil: Anvil, rpc: JsonRpc, devnet: Devnet, tmp_path: Any, kind: str
) -> None:
    proxy = FaultProxy(anvil.url).start()
    try:
        process = node_with(
            {
                "ROSETTA_NODE_INDEX_DB": str(tmp_path / "index.sqlite"),
                "ROSETTA_NODE_INDEX_POLL_INTERVAL": "0.2",
                "ROSETTA_NODE_RPC_TIMEOUT": "1",
                "ROSETTA_NODE_RPC_RETRIES": "0",
            },
            proxy.url,
        )
        IndexedNode(process.url, process, tmp_path).wait_indexed(devnet.workload.last_block)
        cb = Chainbase(process.url)
        token = checksum(devnet.tracked[0].address)
        last = devnet.workload.last_block
        account = sorted(transfer_pairs(rpc, last - 5)[token] - {ZERO})[0]
        options = {"seconds": 3.0} if kind == "delay" else {}
        # A block no earlier answer read (nothing cached for it) for each route.
        blocks = iter(range(last - 1, last - 5, -1))
        statuses = []
        for path, params in (
            ("/v1/account/balance", {"address": account}),
            ("/v1/account/tokens", {"address": account}),
            ("/v1/token/top-holders", {"contract_address": token}),
            ("/v1/token/metadata", {"contract_address": token}),
        ):
            query = {"chain_id": CHAIN_ID, "to_block": next(blocks), **params}
            proxy.arm(kind, **options)
            try:
                answer = cb.request(path, query)
            finally:
                proxy.disarm()
            statuses.append(answer.status)
            if answer.status != 200:
                assert answer.status == 503 and answer.body["retriable"] is True, answer.body
                assert answer.headers["Retry-After"] == "1"
            # A 200 despite the fault (no faulty read was needed) must be right, too.
            body = answer.body if answer.status == 200 else eventually_ok(cb, path, query)
            block = pinned_block(rpc, body)
            assert block == query["to_block"]
            if path == "/v1/account/balance":
                assert int(body["data"], 16) == rpc.balance(account, block)
            elif path == "/v1/account/tokens":
                assert body["count"] > 0
                for row in body["data"]:
                    balance = rpc.token_balance(row["contract_address"], account, block)
                    assert int(row["balance"], 16) == balance
            elif path == "/v1/token/top-holders":
                for row in body["data"]:
                    balance = rpc.token_balance(token, row["wallet_address"], block)
                    assert int(row["original_amount"]) == balance
            else:
                assert int(body["data"]["total_supply"], 16) == total_supply(rpc, token, block)
        assert statuses.count(503) >= 2, statuses  # the faults did reach the answers
    finally:
        proxy.stop()
