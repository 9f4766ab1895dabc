"""The number -> hash cache of Chain: used only at or below the node's finalized block (anvil:
head - 64), never above it, and dropped when a devnet rewinds below finalized."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from rosetta_node.cache import ChainCache
from rosetta_node.devnet import Anvil
from rosetta_node.engine import chain as chain_module
from rosetta_node.engine.chain import Chain, Header
from rosetta_node.engine.node_client import NodeClient
from rosetta_node.rpc import RpcClient, RpcError

pytestmark = pytest.mark.devnet  # every test here starts a node

SENDER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
RECEIVER = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"


class Recorder:
    """Wraps RpcClient._send: every call's method and first parameter, POST by POST."""

    def __init__(self, rpc: RpcClient) -> None:
        self.calls: list[tuple[str, Any]] = []
        send = rpc._send

        async def recording(calls: Any, timeout: float) -> list[Any]:
            self.calls.extend((m, p[0] if p else None) for m, p in calls)
            return await send(calls, timeout)

        rpc._send = recording  # type: ignore[method-assign]

    def lookups(self, number: int) -> int:
        return self.calls.count(("eth_getBlockByNumber", hex(number)))


async def settle(chain: Chain) -> None:
    """Start a look at the finalized block (as any lookup does once it is due) and finish it."""
    await asyncio.sleep(chain_module.FINALIZED_REFRESH)
    chain._finality()
    if chain._refresh is not None:
        await chain._refresh


def with_chain(url: str, test: Callable[[Chain, Recorder], Awaitable[None]]) -> None:
    async def main() -> None:
        rpc = RpcClient(url, name="anvil")
        chain = Chain(NodeClient(rpc), ChainCache())
        try:
            await test(chain, Recorder(rpc))
        finally:
            await rpc.close()

    asyncio.run(main())


def canonical(chain: Anvil, number: int) -> str:
    return str(chain.rpc("eth_getBlockByNumber", hex(number), False)["hash"])


@pytest.fixture(autouse=True)
def fast_refresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chain_module, "FINALIZED_REFRESH", 0.05)
    monkeypatch.setattr(chain_module, "FINALIZED_MAX_AGE", 30.0)


def test_cached_at_or_below_finalized_and_never_above() -> None:
    with Anvil() as node:
        node.rpc("anvil_mine", "0x64")  # head 100: finalized 36, safe 68

        async def test(chain: Chain, rec: Recorder) -> None:
            await settle(chain)
            finalized = chain._finalized
            assert finalized is not None and finalized.number == 36
            for number in (0, 10, 36, 37, 68, 99, 100):
                first = await chain.by_number(number)
                second = await chain.by_number(number)
                assert first.hash == second.hash == canonical(node, number)
                # At or below finalized: asked once at most (36 came with the finalized look).
                # Above: asked every time.
                assert rec.lookups(number) == (2 if number > 36 else (0 if number == 36 else 1))
            assert all(n <= 36 for n in chain.cache.canonical)
            # A lookup that starts before the block is final is not cached even when the
            # block is final by the time the answer arrives.
            node.rpc("anvil_mine", "0x64")  # finalized is now 136
            assert (await chain.by_number(50)).hash == canonical(node, 50)
            assert 50 not in chain.cache.canonical  # finality known when asked: still 36
            await settle(chain)
            await chain.by_number(50)
            assert 50 in chain.cache.canonical

        with_chain(node.url, test)


def test_reorg_above_finalized_serves_the_new_branch() -> None:
    with Anvil() as node:
        node.rpc("anvil_mine", "0x64")
        for _ in range(3):
            node.rpc("eth_sendTransaction", {"from": SENDER, "to": RECEIVER, "value": hex(10**18)})

        async def test(chain: Chain, rec: Recorder) -> None:
            await settle(chain)
            head = (await chain.head()).number
            before = {n: (await chain.by_number(n)).hash for n in range(head - 2, head + 1)}
            node.rpc("anvil_reorg", 3, [[{"from": SENDER, "to": RECEIVER, "value": hex(7)}, 0]])
            await settle(chain)
            for number in range(head - 2, head + 1):
                header = await chain.by_number(number)
                assert header.hash == canonical(node, number) != before[number]

        with_chain(node.url, test)


def test_devnet_rewind_below_finalized_drops_the_cache() -> None:
    with Anvil() as node:
        node.rpc("anvil_mine", "0xc8")  # head 200: finalized 136

        async def test(chain: Chain, rec: Recorder) -> None:
            await settle(chain)
            old = {n: (await chain.by_number(n)).hash for n in (100, 120)}
            assert set(old) <= set(chain.cache.canonical)
            # Rewind 150 blocks (through "finalized"), then build another branch past it.
            node.rpc("anvil_rollback", 150)
            node.rpc("eth_sendTransaction", {"from": SENDER, "to": RECEIVER, "value": hex(5)})
            node.rpc("anvil_mine", "0xc8")
            assert canonical(node, 100) != old[100]
            await settle(chain)
            assert 100 not in chain.cache.canonical and 120 not in chain.cache.canonical
            for number in (100, 120):
                assert (await chain.by_number(number)).hash == canonical(node, number)

        with_chain(node.url, test)


def test_no_finality_means_no_cache() -> None:
    """A node that answers "finalized" with an error or null: every lookup asks the node."""

    class NoFinality(RpcClient):
        async def batch(self, calls: Any, *, timeout: float | None = None) -> list[Any]:
            answers = await super().batch(calls, timeout=timeout)
            return [
                RpcError(m, -32000, "finalized block not found") if p and p[0] == "finalized" else a
                for (m, p), a in zip(calls, answers, strict=True)
            ]

    with Anvil() as node:
        node.rpc("anvil_mine", "0x64")

        async def main() -> None:
            rpc = NoFinality(node.url, name="anvil")
            chain = Chain(NodeClient(rpc), ChainCache())
            rec = Recorder(rpc)
            try:
                await settle(chain)
                assert chain._finalized is None
                for _ in range(2):
                    header: Header = await chain.by_number(5)
                    assert header.hash == canonical(node, 5)
                assert rec.lookups(5) == 2
                assert len(chain.cache.canonical) == 0
            finally:
                await rpc.close()

        asyncio.run(main())


def test_stale_finality_is_not_trusted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not looked at for FINALIZED_MAX_AGE: the cache is bypassed until it has been again."""
    with Anvil() as node:
        node.rpc("anvil_mine", "0x64")

        async def test(chain: Chain, rec: Recorder) -> None:
            await settle(chain)
            await chain.by_number(5)
            assert 5 in chain.cache.canonical
            monkeypatch.setattr(chain_module, "FINALIZED_MAX_AGE", 0.0)
            await chain.by_number(5)
            assert rec.lookups(5) == 2

        with_chain(node.url, test)
