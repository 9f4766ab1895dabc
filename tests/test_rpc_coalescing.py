"""RpcClient coalescing: calls issued in the same event-loop iteration share one batch POST,
and each caller still gets exactly its own answers, errors, timeouts and retries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import pytest
from aiohttp import web

from rosetta_node.devnet import Anvil, free_port
from rosetta_node.errors import NODE_TIMEOUT, NODE_UNAVAILABLE, CatalogError
from rosetta_node.rpc import RpcClient, RpcError
from tests.fake_server import serve


class FakeNode:
    """A JSON-RPC server: ``echo`` answers its params, ``fail`` answers an error object,
    ``slow`` answers after ``params[0]`` seconds. Records every POST's methods."""

    def __init__(self) -> None:
        self.posts: list[list[str]] = []
        self.fail_next_posts = 0  # answer HTTP 503 to this many POSTs first

    async def handle(self, request: web.Request) -> web.Response:
        body = msgspec.json.decode(await request.read())
        items = body if isinstance(body, list) else [body]
        self.posts.append([item["method"] for item in items])
        if self.fail_next_posts:
            self.fail_next_posts -= 1
            return web.Response(status=503)
        answers = []
        for item in items:
            if item["method"] == "slow":
                await asyncio.sleep(item["params"][0])
            if item["method"] == "fail":
                answers.append(
                    {"jsonrpc": "2.0", "id": item["id"], "error": {"code": -32000, "message": "no"}}
                )
            else:
                answers.append({"jsonrpc": "2.0", "id": item["id"], "result": item["params"]})
        answer = answers if isinstance(body, list) else answers[0]
        return web.Response(body=msgspec.json.encode(answer), content_type="application/json")


@asynccontextmanager
async def fake_node() -> AsyncIterator[tuple[FakeNode, str]]:
    node = FakeNode()
    async with serve(node.handle) as url:
        yield node, url


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(test())


def test_concurrent_calls_share_one_post_and_get_their_own_results() -> None:
    async def main() -> None:
        async with fake_node() as (node, url):
            rpc = RpcClient(url, name="fake", retries=0)
            try:
                results = await asyncio.gather(
                    *(rpc.call("echo", [i]) for i in range(10)),
                    rpc.batch([("echo", ["a"]), ("echo", ["b"]), ("echo", ["c"])]),
                )
                assert results[:10] == [[i] for i in range(10)]
                assert results[10] == [["a"], ["b"], ["c"]]
                assert node.posts == [["echo"] * 13]
                # Sequential calls are not held back: each goes out alone, as a single call.
                assert await rpc.call("echo", [1]) == [1]
                assert node.posts[-1] == ["echo"]
            finally:
                await rpc.close()

    run(main)


def test_one_callers_error_does_not_fail_the_others() -> None:
    async def main() -> None:
        async with fake_node() as (node, url):
            rpc = RpcClient(url, name="fake", retries=0)
            try:
                good, bad, mixed = await asyncio.gather(
                    rpc.call("echo", [1]),
                    rpc.call("fail", []),
                    rpc.batch([("echo", [2]), ("fail", []), ("echo", [3])]),
                    return_exceptions=True,
                )
                assert good == [1]
                assert isinstance(bad, RpcError) and bad.message == "no"
                assert isinstance(mixed, list)
                assert mixed[0] == [2] and mixed[2] == [3]
                assert isinstance(mixed[1], RpcError)
                assert len(node.posts) == 1
            finally:
                await rpc.close()

    run(main)


def test_max_batch_and_timeouts_split_posts() -> None:
    async def main() -> None:
        async with fake_node() as (node, url):
            rpc = RpcClient(url, name="fake", retries=0, max_batch=4)
            try:
                results = await asyncio.gather(
                    *(rpc.call("echo", [i]) for i in range(10)),
                    rpc.call("echo", ["long"], timeout=60.0),
                )
                assert results == [*([i] for i in range(10)), ["long"]]
                # 10 calls at the default timeout in POSTs of at most 4; the one with its own
                # timeout (a trace, say) never shares a POST with the others.
                assert sorted(len(p) for p in node.posts) == [1, 2, 4, 4]
                # A caller's own batch larger than max_batch is split, and kept in order.
                batch = await rpc.batch([("echo", [i]) for i in range(9)])
                assert batch == [[i] for i in range(9)]
            finally:
                await rpc.close()

    run(main)


def test_a_long_batch_keeps_its_own_post() -> None:
    async def main() -> None:
        async with fake_node() as (node, url):
            rpc = RpcClient(url, name="fake", retries=0)
            try:
                long, *singles = await asyncio.gather(
                    rpc.batch([("echo", [i]) for i in range(20)]),
                    *(rpc.call("echo", [i]) for i in range(3)),
                )
                assert long == [[i] for i in range(20)] and singles == [[0], [1], [2]]
                assert sorted(len(p) for p in node.posts) == [3, 20]
            finally:
                await rpc.close()

    run(main)


def test_transport_failures_are_retried_once_for_the_whole_post() -> None:
    async def main() -> None:
        async with fake_node() as (node, url):
            rpc = RpcClient(url, name="fake", retries=1)
            try:
                node.fail_next_posts = 1
                results = await asyncio.gather(*(rpc.call("echo", [i]) for i in range(3)))
                assert results == [[0], [1], [2]]
                assert node.posts == [["echo"] * 3] * 2  # one failed POST, one retry
            finally:
                await rpc.close()

    run(main)


def test_unreachable_node_fails_every_caller_with_its_own_error() -> None:
    async def main() -> None:
        rpc = RpcClient(f"http://127.0.0.1:{free_port()}/", name="down", retries=0)
        try:
            errors = await asyncio.gather(
                *(rpc.call("echo", [i]) for i in range(3)), return_exceptions=True
            )
        finally:
            await rpc.close()
        assert all(isinstance(e, CatalogError) and e.error is NODE_UNAVAILABLE for e in errors)
        assert len({id(e) for e in errors}) == 3

    run(main)


def test_timeout_and_cancellation_per_caller() -> None:
    async def main() -> None:
        async with fake_node() as (node, url):
            rpc = RpcClient(url, name="fake", retries=0, timeout=0.3)
            try:
                with pytest.raises(CatalogError) as info:
                    await rpc.call("slow", [2.0])
                assert info.value.error is NODE_TIMEOUT
                # A cancelled caller does not cancel the POST others still wait for...
                slow = asyncio.ensure_future(rpc.call("slow", [0.1], timeout=5.0))
                other = asyncio.ensure_future(rpc.call("echo", [1], timeout=5.0))
                await asyncio.sleep(0.02)
                slow.cancel()
                assert await other == [1]
                # ...but when every caller gave up, the POST is dropped, not left running.
                lone = asyncio.ensure_future(rpc.call("slow", [3.0], timeout=5.0))
                await asyncio.sleep(0.05)
                assert rpc._tasks
                lone.cancel()
                await asyncio.sleep(0.05)
                assert not rpc._tasks
            finally:
                await rpc.close()

    run(main)


@pytest.mark.devnet
def test_coalesced_reads_against_anvil() -> None:
    """Concurrent header and state reads of different blocks, in one POST, all correct."""

    async def main(url: str) -> None:
        rpc = RpcClient(url, name="anvil")
        sent: list[int] = []
        send = rpc._send

        async def counting(calls: Any, timeout: float) -> list[Any]:
            sent.append(len(calls))
            return await send(calls, timeout)

        rpc._send = counting  # type: ignore[method-assign]
        try:
            await rpc.call("anvil_mine", ["0x5"])
            sent.clear()
            account = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
            headers, balances = await asyncio.gather(
                asyncio.gather(
                    *(rpc.call("eth_getBlockByNumber", [hex(n), False]) for n in range(6))
                ),
                rpc.batch(
                    [("eth_getBalance", [account, hex(n)]) for n in range(6)]
                    + [("eth_getBlockByNumber", ["0x99", False]), ("eth_nope", [])]
                ),
            )
            assert sent == [14]
            assert [int(h["number"], 16) for h in headers] == list(range(6))
            assert all(int(b, 16) > 0 for b in balances[:6])
            assert balances[6] is None  # a future block: null, not an error
            assert isinstance(balances[7], RpcError)
        finally:
            await rpc.close()

    with Anvil() as chain:
        asyncio.run(main(chain.url))
