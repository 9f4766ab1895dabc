"""The JSON-RPC client: the only code in the project that talks to the node.

One pool of keep-alive HTTP connections per node (``transport.py``); calls go out singly or
as JSON-RPC batches. Calls and batches issued in the same event-loop iteration (concurrent
requests) are coalesced into one batch POST: far fewer HTTP exchanges for the node and for us
under load, and nothing waits longer than one loop iteration. Each caller still gets its own
results in its own order; one element's JSON-RPC error stays in its slot. Transport
failures (connection errors, timeouts, HTTP 5xx, unparseable bodies) are retried, because every
method sent through here is a read and so safe to repeat; a JSON-RPC error object is the node's
answer and is handed back to the caller, never retried. Every ``eth_call`` goes out with at
most ``call_gas_cap`` gas (the caller's gas, else the cap), and one that timed out is not sent
again: the node may still be running it, and a call that ran out of time runs out again.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from ..errors import (
    NODE_ERROR,
    NODE_TIMEOUT,
    NODE_UNAVAILABLE,
    WRONG_CHAIN,
    CatalogError,
    ErrorDef,
)
from ..metrics import RPC_CALLS, RPC_ERRORS, child
from .transport import HttpTransport, TransportError

log = logging.getLogger(__name__)

Call = tuple[str, Sequence[Any]]

_OWN_POST = 8  # a caller's batch longer than this is sent alone, never coalesced


# Structs, not dicts, on the wire both ways: cheaper to build, encode and decode, and (gc=False)
# never tracked by the cycle collector: a 50-token balance is 52 of each.
class _Request(msgspec.Struct, gc=False):
    jsonrpc: str
    id: int
    method: str
    params: Sequence[Any]


class _Reply(msgspec.Struct, gc=False):
    """One answer of the node; members other than these are ignored."""

    id: Any = None
    result: Any = msgspec.UNSET  # UNSET: no "result" member (null is a result)
    error: Any = None


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(list[_Reply] | _Reply).decode


class RpcError(Exception):
    """A JSON-RPC error object returned by the node for one call."""

    def __init__(self, method: str, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"{method}: {code} {message}")
        self.method = method
        self.code = code
        self.message = message
        self.data = data


class _Transient(Exception):
    """A failure worth retrying; becomes a retriable catalog error when retries run out."""

    def __init__(self, error: CatalogError) -> None:
        self.error = error


@dataclass(slots=True)
class _Waiter:
    """One caller's calls inside a coalesced POST, and where its results go."""

    calls: Sequence[Call]
    future: asyncio.Future[list[Any]]


class RpcClient:
    def __init__(
        self,
        url: str,
        *,
        name: str,
        timeout: float = 10.0,
        retries: int = 2,
        max_connections: int = 32,
        max_batch: int = 100,
        call_gas_cap: int = 50_000_000,
    ) -> None:
        self.url = url
        self.name = name  # a credential-free label for errors and logs
        self.timeout = timeout
        self.retries = retries
        self.max_batch = max_batch
        self.call_gas_cap = call_gas_cap
        self._cap_hex = hex(call_gas_cap)
        self._transport = HttpTransport(url, max_connections=max_connections)
        self._next_id = 1
        # Callers waiting for this loop iteration's POST, by timeout: calls with different
        # deadlines (a 60 s trace, a 10 s read) never share a POST.
        self._pending: dict[float, tuple[asyncio.AbstractEventLoop, list[_Waiter]]] = {}
        # When set, every POST also asks eth_chainId and fails with WRONG_CHAIN on another
        # answer: a node swapped behind the URL (a load balancer, a redeploy) is caught on the
        # very request it would have answered, never serving another chain's data.
        self.expect_chain_id: int | None = None
        self._tasks: set[asyncio.Task[Any]] = set()  # the POSTs in flight

    async def close(self) -> None:
        await self._transport.close()

    async def __aenter__(self) -> RpcClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def call(
        self, method: str, params: Sequence[Any], *, timeout: float | None = None
    ) -> Any:
        """One call; raises RpcError for the node's error answer."""
        (result,) = await self._submit([(method, params)], timeout or self.timeout)
        if isinstance(result, RpcError):
            raise result
        return result

    async def batch(
        self, calls: Sequence[Call], *, timeout: float | None = None
    ) -> list[Any | RpcError]:
        """Results in call order; a failed element is an RpcError in its slot, not raised."""
        if not calls:
            return []
        timeout = timeout or self.timeout
        if len(calls) <= self.max_batch:
            return await self._submit(calls, timeout)
        chunks = [calls[i : i + self.max_batch] for i in range(0, len(calls), self.max_batch)]
        parts = await asyncio.gather(*(self._submit(chunk, timeout) for chunk in chunks))
        return [result for part in parts for result in part]

    async def _submit(self, calls: Sequence[Call], timeout: float) -> list[Any]:
        # A batch of its own (e.g. 50 balanceOf calls) already pays for its POST: sent at once,
        # alone, it neither waits a loop iteration for company nor delays small calls behind
        # it, nor serializes work the node could do in parallel over two connections.
        if len(calls) > _OWN_POST:
            return await self._send_own(calls, timeout)
        loop = asyncio.get_running_loop()
        pending = self._pending.get(timeout)
        # A queue left by a loop that stopped before flushing it is not joined.
        if pending is not None and pending[0] is loop:
            future: asyncio.Future[list[Any]] = loop.create_future()
            pending[1].append(_Waiter(calls, future))
            return await future
        # The first caller of this iteration leads: it yields once (resuming after the
        # callbacks already ready), every caller that issues a call meanwhile joins its queue,
        # then it hands out the POSTs.
        own = _Waiter(calls, loop.create_future())
        queue = [own]
        self._pending[timeout] = (loop, queue)
        try:
            await asyncio.sleep(0)
        except asyncio.CancelledError:
            own.future.cancel()
            self._dispatch(loop, timeout, queue, None)  # the others still get their POSTs
            raise
        if not self._dispatch(loop, timeout, queue, own):
            return await own.future
        return await self._send_own(calls, timeout)

    async def _send_own(self, calls: Sequence[Call], timeout: float) -> list[Any]:
        # Alone in its POST (the usual case when not under load): sent from this task, with
        # no hand-off to another task and back. Cancelling it stops the POST, as when every
        # caller of a shared POST gave up.
        task = asyncio.current_task()
        if task is None:  # (not run by a task: nothing to list as in flight)
            return await self._send_with_retries(calls, timeout)
        self._tasks.add(task)
        try:
            return await self._send_with_retries(calls, timeout)
        finally:
            self._tasks.discard(task)

    def _dispatch(
        self,
        loop: asyncio.AbstractEventLoop,
        timeout: float,
        queue: list[_Waiter],
        own: _Waiter | None,
    ) -> bool:
        """Starts a task per POST of the queue; True when ``own`` is alone in its POST and
        left for the caller to send."""
        if (pending := self._pending.get(timeout)) is not None and pending[1] is queue:
            del self._pending[timeout]
        alone = False
        for group in self._group(queue):
            if len(group) == 1 and group[0] is own:
                alone = True
                continue
            task = loop.create_task(self._post_group(group, timeout))
            self._tasks.add(task)  # a strong reference until done
            task.add_done_callback(self._tasks.discard)
            abandon = functools.partial(self._abandon, group, task)
            for waiter in group:
                waiter.future.add_done_callback(abandon)
        return alone

    def _group(self, queue: list[_Waiter]) -> list[list[_Waiter]]:
        groups: list[list[_Waiter]] = []
        size = 0
        for waiter in queue:
            if waiter.future.done():  # cancelled before its POST went out
                continue
            if groups and size + len(waiter.calls) <= self.max_batch:
                groups[-1].append(waiter)
                size += len(waiter.calls)
            else:
                groups.append([waiter])
                size = len(waiter.calls)
        return groups

    @staticmethod
    def _abandon(
        group: list[_Waiter], task: asyncio.Task[None], _done: asyncio.Future[list[Any]]
    ) -> None:
        # When every caller of a POST gave up (cancelled), stop the POST as an uncoalesced
        # call would have stopped, instead of holding a pooled connection until the timeout.
        if not task.done() and all(w.future.cancelled() for w in group):
            task.cancel()

    async def _post_group(self, group: list[_Waiter], timeout: float) -> None:
        calls = [c for w in group for c in w.calls]
        try:
            results = await self._send_with_retries(calls, timeout)
        except asyncio.CancelledError:
            for waiter in group:
                waiter.future.cancel()
            raise
        except Exception as exc:  # handed to every caller of this POST
            for waiter in group:
                if not waiter.future.done():
                    # One exception object per caller: each raise grows its own traceback.
                    own = exc
                    if isinstance(exc, CatalogError):
                        own = CatalogError(exc.error, exc.details)
                    waiter.future.set_exception(own)
            return
        start = 0
        for waiter in group:
            end = start + len(waiter.calls)
            if not waiter.future.done():
                waiter.future.set_result(results[start:end])
            start = end

    async def _send_with_retries(self, calls: Sequence[Call], timeout: float) -> list[Any]:
        counts: dict[str, int] = {}
        for method, _ in calls:
            counts[method] = counts.get(method, 0) + 1
        for method, n in counts.items():  # one metric update per method, not per call
            child(RPC_CALLS, method).inc(n)
        attempt = 0
        while True:
            try:
                return await self._send(calls, timeout)
            except _Transient as exc:
                if attempt >= self.retries or _timed_out_call(exc, calls):
                    for method, _ in calls:
                        RPC_ERRORS.labels(method, "transport").inc()
                    raise exc.error from None
                attempt += 1
                log.debug("retrying %s after %s", self.name, exc.error)
                await asyncio.sleep(0.05 * 3**attempt)

    async def _send(self, calls: Sequence[Call], timeout: float) -> list[Any]:
        # One _send's ids are consecutive: first_id, first_id + 1, ...
        first_id = self._next_id
        self._next_id = first_id + len(calls)
        payload = [
            _Request("2.0", i, m, self._capped(p) if m == "eth_call" else p)
            for i, (m, p) in enumerate(calls, first_id)
        ]
        expected = self.expect_chain_id
        guard_id = -first_id  # ids we make are positive: this one cannot collide
        if expected is not None:
            payload.append(_Request("2.0", guard_id, "eth_chainId", ()))
        single = len(payload) == 1
        body = _encode(payload[0] if single else payload)
        try:
            status, raw = await self._transport.post(body, timeout)
        except TimeoutError:
            raise self._transient(NODE_TIMEOUT, calls, single, timeout_s=timeout) from None
        except TransportError as exc:
            raise self._transient(NODE_UNAVAILABLE, calls, single, reason=exc.reason) from None
        except OSError as exc:
            reason = type(exc).__name__
            raise self._transient(NODE_UNAVAILABLE, calls, single, reason=reason) from None
        if status >= 500 or status == 429:
            raise self._transient(NODE_UNAVAILABLE, calls, single, http_status=status)
        try:
            decoded = _decode(raw)
        except msgspec.ValidationError:  # JSON, but not JSON-RPC answers
            decoded = None
        except msgspec.DecodeError:
            reason = f"invalid JSON (HTTP {status})"
            raise self._transient(NODE_ERROR, calls, single, reason=reason) from None
        if single and isinstance(decoded, _Reply):
            decoded = [decoded]
        if not isinstance(decoded, list):
            reason = f"unexpected answer (HTTP {status})"
            raise self._transient(NODE_ERROR, calls, single, reason=reason)
        items = self._in_call_order(decoded, first_id, len(calls))
        # A node refusing the whole batch with one error object is handled per call below.
        refused = decoded[0] if len(decoded) == 1 and decoded[0].id != guard_id else None
        if expected is not None and refused is None:
            guard = next((r for r in reversed(decoded) if r.id == guard_id), None)
            self._check_chain(guard, expected, calls, single)
        results: list[Any] = []
        for (method, _), item in zip(calls, items, strict=True):
            if item is None:
                if refused is None or refused.error is None:
                    reason = "answer missing for a call"
                    raise self._transient(NODE_ERROR, calls, single, reason=reason)
                item = refused
            if item.error is not None:
                RPC_ERRORS.labels(method, "node").inc()
                results.append(_rpc_error(method, item.error))
            elif item.result is not msgspec.UNSET:
                results.append(item.result)
            else:
                reason = "answer has no result"
                raise self._transient(NODE_ERROR, calls, single, reason=reason)
        return results

    def _capped(self, params: Sequence[Any]) -> Sequence[Any]:
        """eth_call's params with the transaction's gas at most the cap (the cap when absent)."""
        tx = params[0] if params else None
        if not isinstance(tx, dict):
            return params  # not a call object: the node refuses it itself
        gas = tx.get("gas")
        if isinstance(gas, str) and gas[:2] == "0x" and len(gas) <= 18:
            try:
                if int(gas, 16) <= self.call_gas_cap:
                    return params
            except ValueError:
                pass  # not hex: the cap replaces it
        return [{**tx, "gas": self._cap_hex}, *params[1:]]

    @staticmethod
    def _in_call_order(decoded: list[_Reply], first_id: int, count: int) -> list[_Reply | None]:
        """The answer to each call (by id), None where the node left one out."""
        if len(decoded) >= count and all(
            decoded[k].id == first_id + k for k in range(count)
        ):  # the usual order: no table needed
            return decoded[:count]  # type: ignore[return-value]
        by_id: dict[Any, _Reply] = {}
        for reply in decoded:
            with contextlib.suppress(TypeError):  # an id no call of ours has (a list, ...)
                by_id[reply.id] = reply
        return [by_id.get(i) for i in range(first_id, first_id + count)]

    def _transient(
        self, error: ErrorDef, calls: Sequence[Call], single: bool, **details: Any
    ) -> _Transient:
        """A retriable failure whose details name the node and the method (built only when
        something failed, never on the way of a good answer)."""
        context = {"node": self.name, "method": calls[0][0] if single else "batch"}
        return _Transient(CatalogError(error, {**context, **details}))

    def _check_chain(
        self, item: _Reply | None, expected: int, calls: Sequence[Call], single: bool
    ) -> None:
        result = item.result if item is not None else None
        try:
            served = int(result, 16) if isinstance(result, str) else None
        except ValueError:
            served = None
        if served is None:
            raise self._transient(NODE_ERROR, calls, single, reason="no eth_chainId answer")
        if served != expected:
            RPC_ERRORS.labels("eth_chainId", "wrong_chain").inc()
            raise CatalogError(
                WRONG_CHAIN, {"node": self.name, "node_chain_id": served, "configured": expected}
            )


def _timed_out_call(exc: _Transient, calls: Sequence[Call]) -> bool:
    return exc.error.error is NODE_TIMEOUT and any(m == "eth_call" for m, _ in calls)


def _rpc_error(method: str, error: Any) -> RpcError:
    """The node's error object as an RpcError, whatever its shape."""
    if not isinstance(error, dict):
        return RpcError(method, -32603, str(error))
    code = error.get("code")
    if not isinstance(code, int) or isinstance(code, bool):
        code = -32603
    return RpcError(method, code, str(error.get("message", "")), error.get("data"))
