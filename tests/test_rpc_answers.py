"""How RpcClient reads a node's batch answers, whatever their order or shape.

A fake JSON-RPC server, because a real node does not answer out of order, leave calls out or
send malformed error objects on demand. Each case names what the node sent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import pytest
from aiohttp import web

from rosetta_node.errors import NODE_ERROR, WRONG_CHAIN, CatalogError
from rosetta_node.rpc import RpcClient, RpcError
from tests.fake_server import serve

Shape = Callable[[list[dict[str, Any]]], Any]  # the calls -> what the node answers


def _echo(item: dict[str, Any]) -> dict[str, Any]:
    if item["method"] == "eth_chainId":
        return {"jsonrpc": "2.0", "id": item["id"], "result": "0x7a69"}
    return {"jsonrpc": "2.0", "id": item["id"], "result": item["params"][0]}


@asynccontextmanager
async def node(shape: Shape) -> AsyncIterator[str]:
    async def handle(request: web.Request) -> web.Response:
        body = msgspec.json.decode(await request.read())
        items = body if isinstance(body, list) else [body]
        answer = shape(items)
        if not isinstance(body, list) and isinstance(answer, list) and len(answer) == 1:
            answer = answer[0]
        return web.Response(body=msgspec.json.encode(answer), content_type="application/json")

    async with serve(handle) as url:
        yield url


async def _batch(
    shape: Shape, calls: int = 12, chain_id: int | None = None
) -> list[Any | RpcError]:
    async with node(shape) as url, RpcClient(url, name="fake", retries=0) as client:
        client.expect_chain_id = chain_id
        return await client.batch([("echo", [f"v{i}"]) for i in range(calls)])


def _failure(shape: Shape, **kwargs: Any) -> CatalogError:
    with pytest.raises(CatalogError) as caught:
        asyncio.run(_batch(shape, **kwargs))
    return caught.value


@pytest.mark.parametrize("calls", [1, 3, 12])
@pytest.mark.parametrize("chain_id", [None, 31337])
def test_answers_in_any_order_reach_their_calls(calls: int, chain_id: int | None) -> None:
    expected = [f"v{i}" for i in range(calls)]
    in_order = asyncio.run(_batch(lambda items: [_echo(i) for i in items], calls, chain_id))
    reversed_ = asyncio.run(_batch(lambda items: [_echo(i) for i in items][::-1], calls, chain_id))
    assert in_order == expected
    assert reversed_ == expected


def test_a_null_result_is_a_result_and_errors_stay_in_their_slot() -> None:
    def shape(items: list[dict[str, Any]]) -> Any:
        answers: list[Any] = [_echo(i) for i in items]
        answers[1] = {"jsonrpc": "2.0", "id": items[1]["id"], "result": None}
        answers[2] = {"jsonrpc": "2.0", "id": items[2]["id"], "error": "plain text"}
        answers[3] = {"jsonrpc": "2.0", "id": items[3]["id"], "error": {"code": "x", "message": 7}}
        error = {"code": 3, "message": "execution reverted", "data": "0x08c379a0"}
        answers[4] = {"jsonrpc": "2.0", "id": items[4]["id"], "error": error}
        return answers

    results = asyncio.run(_batch(shape, calls=6))
    assert results[0] == "v0" and results[1] is None and results[5] == "v5"
    plain, odd, revert = results[2], results[3], results[4]
    assert isinstance(plain, RpcError) and (plain.code, plain.message) == (-32603, "plain text")
    assert isinstance(odd, RpcError) and (odd.code, odd.message) == (-32603, "7")
    assert isinstance(revert, RpcError)
    assert (revert.code, revert.message, revert.data) == (3, "execution reverted", "0x08c379a0")


def test_a_batch_refused_with_one_error_gives_every_call_that_error() -> None:
    refusal = {"jsonrpc": "2.0", "id": None, "error": {"code": -32005, "message": "too many"}}
    results = asyncio.run(_batch(lambda items: [refusal], calls=4, chain_id=31337))
    assert all(isinstance(r, RpcError) and r.code == -32005 for r in results)


@pytest.mark.parametrize(
    ("case", "shape", "reason"),
    [
        ("a call left out", lambda items: [_echo(i) for i in items][1:], "answer missing"),
        (
            "an answer without result or error",
            lambda items: [{"jsonrpc": "2.0", "id": i["id"]} for i in items],
            "answer has no result",
        ),
        ("not JSON-RPC answers", lambda items: [1, 2, 3], "unexpected answer"),
        ("a bare string", lambda items: "hello", "unexpected answer"),
        (
            "ids no call has",
            lambda items: [{"jsonrpc": "2.0", "id": [1], "result": 1} for _ in items],
            "answer missing",
        ),
    ],
)
def test_malformed_answers_are_a_node_error_never_a_crash(
    case: str, shape: Shape, reason: str
) -> None:
    failure = _failure(shape, calls=3)
    assert failure.error is NODE_ERROR, case
    assert reason in str(failure.details), (case, failure.details)


def test_the_chain_guard_reads_its_own_answer_wherever_it_is() -> None:
    def other_chain(items: list[dict[str, Any]]) -> Any:
        answers = [_echo(i) for i in items]
        for answer, item in zip(answers, items, strict=True):
            if item["method"] == "eth_chainId":
                answer["result"] = "0x1"
        return answers[::-1]  # the guard first

    assert _failure(other_chain, calls=3, chain_id=31337).error is WRONG_CHAIN
    missing = _failure(
        lambda items: [_echo(i) for i in items if i["method"] != "eth_chainId"],
        calls=3,
        chain_id=31337,
    )
    assert missing.error is NODE_ERROR and "eth_chainId" in str(missing.details)
