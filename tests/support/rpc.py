"""A small synchronous JSON-RPC client for set-up and checks (tests, benchmarks, conformance).

Not for timed paths: the benchmarks' measured clients are their own (aiohttp). ``JsonRpc(url)``
keeps one HTTP session; ``rpc(method, *params)`` is one call, ``rpc.batch([(method, params),
...])`` sends batches of at most ``chunk`` calls and returns the results in order. A JSON-RPC
error, or an answer that is not one, raises :class:`JsonRpcError`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import requests


class JsonRpcError(RuntimeError):
    """A call answered with an error object, or a batch refused as a whole."""

    def __init__(self, method: str, error: Any) -> None:
        self.method = method
        self.error = error
        super().__init__(f"{method}: {error}"[:500])


class JsonRpc:
    """Direct JSON-RPC to a node: the source of truth tests and benchmarks compare against."""

    def __init__(self, url: str, *, timeout: float = 60.0, chunk: int = 500) -> None:
        self.url = url
        self.timeout = timeout
        self.chunk = chunk
        self.session = requests.Session()

    def __call__(self, method: str, *params: Any) -> Any:
        return self.call(method, params)

    def call(self, method: str, params: Sequence[Any] = (), timeout: float | None = None) -> Any:
        (result,) = self.batch([(method, params)], timeout)
        return result

    def batch(
        self, calls: Sequence[tuple[str, Sequence[Any]]], timeout: float | None = None
    ) -> list[Any]:
        results: list[Any] = []
        for start in range(0, len(calls), self.chunk):
            chunk = calls[start : start + self.chunk]
            payload: Any = [
                {"jsonrpc": "2.0", "id": i, "method": m, "params": list(p)}
                for i, (m, p) in enumerate(chunk)
            ]
            answer = self.session.post(
                self.url, json=payload, timeout=self.timeout if timeout is None else timeout
            ).json()
            if not isinstance(answer, list):
                raise JsonRpcError(f"batch of {len(chunk)}", answer)
            by_id = {item.get("id"): item for item in answer}
            for i, (method, _) in enumerate(chunk):
                item = by_id.get(i)
                if item is None or "error" in item:
                    raise JsonRpcError(method, None if item is None else item["error"])
                results.append(item["result"])
        return results

    def balance(self, address: str, block: int | str) -> int:
        tag = hex(block) if isinstance(block, int) else block
        return int(self("eth_getBalance", address, tag), 16)

    def token_balance(self, token: str, address: str, block: int | str) -> int:
        tag = hex(block) if isinstance(block, int) else block
        data = "0x70a08231" + address[2:].lower().rjust(64, "0")
        result = self("eth_call", {"to": token, "data": data}, tag)
        return 0 if result == "0x" else int(result, 16)

    def close(self) -> None:
        self.session.close()


@functools.lru_cache(maxsize=16)
def client(url: str) -> JsonRpc:
    """One shared client (and HTTP session) per URL, for the function forms below."""
    return JsonRpc(url)


def rpc_call(url: str, method: str, params: Sequence[Any] = (), *, timeout: float = 60.0) -> Any:
    """One call to ``url``: ``rosetta_node.devnet.rpc_call``'s signature, over a kept session."""
    return client(url).call(method, params, timeout)


def rpc_batch(
    url: str, calls: Sequence[tuple[str, Sequence[Any]]], *, timeout: float = 60.0
) -> list[Any]:
    """Calls to ``url`` in batches; the results in order."""
    return client(url).batch(calls, timeout)
