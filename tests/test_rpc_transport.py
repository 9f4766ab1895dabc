"""The HTTP/1.1 keep-alive transport under RpcClient (rosetta_node/rpc/transport.py).

The happy path runs against a real anvil; the faults a real node cannot produce on demand
(chunked answers, closes, truncation, garbage, slowness, resets, error statuses) come from
small asyncio TCP servers on 127.0.0.1 written here. Every test runs on the default asyncio
loop and on uvloop (what ``serve`` uses). Assertions are on results and error codes.
"""

from __future__ import annotations

import asyncio
import base64
import shutil
import socket
import ssl
import struct
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import pytest
import uvloop

from rosetta_node.devnet import Anvil, free_port
from rosetta_node.errors import NODE_ERROR, NODE_TIMEOUT, NODE_UNAVAILABLE, CatalogError
from rosetta_node.rpc import RpcClient, RpcError
from rosetta_node.rpc import transport as transport_module
from rosetta_node.rpc.transport import HttpTransport, TransportError

ACCOUNT = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request: pytest.FixtureRequest) -> Callable[[Coroutine[Any, Any, None]], None]:
    def runner(main: Coroutine[Any, Any, None]) -> None:
        if request.param == "uvloop":
            uvloop.run(main)
        else:
            asyncio.run(main)

    return runner


# -- a scriptable HTTP server --------------------------------------------------------------


@dataclass
class Request:
    line: str
    headers: dict[str, str]
    body: bytes
    connection: int  # which accepted connection it came on, from 0

    def answer(self) -> bytes:
        """The JSON-RPC answer: each call's params back as its result."""
        decoded = msgspec.json.decode(self.body)
        items = decoded if isinstance(decoded, list) else [decoded]
        answers = [{"jsonrpc": "2.0", "id": i["id"], "result": i["params"]} for i in items]
        return msgspec.json.encode(answers if isinstance(decoded, list) else answers[0])


@dataclass
class Conn:
    index: int
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def request(self) -> Request | None:
        """The next request on this connection, or None when the client closed it."""
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        line, *rest = head.decode("latin-1").split("\r\n")
        headers = {}
        for header in rest:
            if header:
                name, _, value = header.partition(":")
                headers[name.strip().lower()] = value.strip()
        body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        return Request(line, headers, body, self.index)

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    def reset(self) -> None:
        """Close with a TCP RST instead of a FIN."""
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()

    async def closed_by_client(self) -> bool:
        """True once the client closed its side (EOF or reset)."""
        try:
            return await self.reader.read(1) == b""
        except ConnectionError:
            return True


def ok(body: bytes, *extra: str) -> bytes:
    head = ["HTTP/1.1 200 OK", "Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join([*head, *extra]) + "\r\n\r\n").encode() + body


Handler = Callable[["Server", Conn], Awaitable[None]]


@dataclass
class Server:
    url: str = ""
    requests: list[Request] = field(default_factory=list)
    connections: int = 0
    open_now: int = 0
    most_open: int = 0
    client_closed: list[int] = field(default_factory=list)  # connections the client closed


@asynccontextmanager
async def serve(
    handler: Handler, *, path: str = "/", ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[Server]:
    state = Server()
    tasks: set[asyncio.Task[None]] = set()

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        conn = Conn(state.connections, reader, writer)
        state.connections += 1
        state.open_now += 1
        state.most_open = max(state.most_open, state.open_now)
        try:
            await handler(state, conn)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            state.open_now -= 1
            writer.close()
            tasks.discard(task)

    server = await asyncio.start_server(on_connection, "127.0.0.1", 0, ssl=ssl_context)
    port = server.sockets[0].getsockname()[1]
    state.url = f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}{path}"
    try:
        yield state
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


async def keep_alive(state: Server, conn: Conn) -> None:
    """A well-behaved node: answers every request on the connection, keeps it open."""
    while (request := await conn.request()) is not None:
        state.requests.append(request)
        conn.send(ok(request.answer()))


def client(url: str, **options: Any) -> RpcClient:
    options.setdefault("retries", 0)  # faults must show, not be retried away
    return RpcClient(url, name="test-node", **options)


async def failure(rpc: RpcClient, *params: Any) -> CatalogError:
    with pytest.raises(CatalogError) as info:
        await rpc.call("echo", list(params))
    return info.value


def details(error: CatalogError) -> dict[str, Any]:
    assert error.details is not None
    return error.details


# -- against anvil -------------------------------------------------------------------------


def test_reads_against_anvil(anvil: Anvil, run: Callable[..., None]) -> None:
    async def main() -> None:
        rpc = RpcClient(anvil.url, name="anvil", max_connections=4)
        rpc.expect_chain_id = anvil.chain_id
        try:
            assert int(await rpc.call("eth_chainId", []), 16) == anvil.chain_id
            block = await rpc.call("eth_getBlockByNumber", ["0x0", False])
            pinned = {"blockHash": block["hash"]}
            balance = await rpc.call("eth_getBalance", [ACCOUNT, pinned])
            assert int(balance, 16) > 0
            results = await rpc.batch(
                [("eth_getBalance", [ACCOUNT, pinned]), ("eth_nope", []), ("eth_chainId", [])]
            )
            assert results[0] == balance and isinstance(results[2], str)
            assert isinstance(results[1], RpcError)
            # Sequential calls reuse one connection.
            pool = rpc._transport._pool
            assert pool is not None and pool.size == 1 and len(pool.idle) == 1
            # 200 concurrent calls (coalesced) and 64 uncoalesced POSTs over at most 4
            # connections, every answer right.
            answers = await asyncio.gather(
                *(rpc.call("eth_getBalance", [ACCOUNT, pinned]) for _ in range(200))
            )
            assert answers == [balance] * 200
            transport = HttpTransport(anvil.url, max_connections=4)
            body = msgspec.json.encode(
                {"jsonrpc": "2.0", "id": 7, "method": "eth_getBalance", "params": [ACCOUNT, pinned]}
            )
            raw = await asyncio.gather(*(transport.post(body, 10.0) for _ in range(64)))
            assert {status for status, _ in raw} == {200}
            assert {msgspec.json.decode(b)["result"] for _, b in raw} == {balance}
            assert transport._pool is not None and transport._pool.size <= 4
            await transport.close()
        finally:
            await rpc.close()

    run(main())


def test_one_client_over_several_event_loops(anvil: Anvil) -> None:
    rpc = RpcClient(anvil.url, name="anvil")

    async def main() -> None:
        assert int(await rpc.call("eth_chainId", []), 16) == anvil.chain_id

    # No close() in between: a pool from a finished loop is left behind, not reused.
    asyncio.run(main())
    uvloop.run(main())
    asyncio.run(main())
    asyncio.run(rpc.close())


# -- coalescing over the transport ----------------------------------------------------------


def test_coalescing_on_both_loops_and_a_cancelled_leader(run: Callable[..., None]) -> None:
    async def main() -> None:
        async with serve(keep_alive) as server, client(server.url) as rpc:
            results = await asyncio.gather(*(rpc.call("echo", [i]) for i in range(10)))
            assert results == [[i] for i in range(10)]
            assert await rpc.call("echo", ["alone"]) == ["alone"]
            # The first caller of an iteration collects the others' calls; cancelled
            # before it sends, the others' POST still goes out.
            leader = asyncio.ensure_future(rpc.call("echo", ["leader"]))
            followers = [asyncio.ensure_future(rpc.call("echo", [i])) for i in range(3)]
            await asyncio.sleep(0)
            leader.cancel()
            assert await asyncio.gather(*followers) == [[0], [1], [2]]
            assert leader.cancelled()
            await asyncio.sleep(0.01)
            assert not rpc._tasks
        sizes = []
        for request in server.requests:
            decoded = msgspec.json.decode(request.body)
            sizes.append(len(decoded) if isinstance(decoded, list) else 1)
        assert sizes == [10, 1, 3]

    run(main())


# -- request shape -------------------------------------------------------------------------


def test_request_line_host_path_query_and_basic_auth(run: Callable[..., None]) -> None:
    async def main() -> None:
        async with serve(keep_alive) as server:
            port = server.url.split(":")[2].split("/")[0]
            url = f"http://us%40er:p%3Ass@127.0.0.1:{port}/v3/KEY?token=abc"
            rpc = client(url)
            try:
                assert await rpc.call("echo", [1]) == [1]
            finally:
                await rpc.close()
        (request,) = server.requests
        assert request.line == "POST /v3/KEY?token=abc HTTP/1.1"
        assert request.headers["host"] == f"127.0.0.1:{port}"
        assert request.headers["content-type"] == "application/json"
        assert request.headers["authorization"] == "Basic " + base64.b64encode(
            b"us@er:p:ss"
        ).decode("ascii")
        assert "user-agent" not in request.headers

    run(main())


SECRET = "s3cr3t-Pa55"


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def test_credentials_never_in_errors(run: Callable[..., None]) -> None:
    async def garbage(state: Server, conn: Conn) -> None:
        await conn.request()
        conn.send(b"NOT HTTP AT ALL " + SECRET.encode() + b"\r\n\r\n")

    async def main() -> None:
        dead = f"http://admin:{SECRET}@127.0.0.1:{free_port()}/v3/{SECRET}?apikey={SECRET}"
        async with serve(garbage) as server:
            port = server.url.split(":")[2].split("/")[0]
            broken = f"http://admin:{SECRET}@127.0.0.1:{port}/{SECRET}"
            errors = []
            for url in (dead, broken, f"ftp://admin:{SECRET}@127.0.0.1/"):
                rpc = client(url, timeout=2.0)
                try:
                    errors.append(await failure(rpc))
                finally:
                    await rpc.close()
        assert [e.error for e in errors] == [NODE_UNAVAILABLE] * 3
        for error in errors:
            for exc in _chain(error):
                assert SECRET not in str(exc) and SECRET not in repr(exc)
            assert SECRET not in repr(error.details)

    run(main())


# -- response framing ----------------------------------------------------------------------


def test_chunked_answer_and_the_connection_is_reused(run: Callable[..., None]) -> None:
    async def chunked(state: Server, conn: Conn) -> None:
        while (request := await conn.request()) is not None:
            state.requests.append(request)
            body = request.answer()
            conn.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for part in (body[:3], body[3:]):
                conn.send(b"%x;ext=1\r\n%b\r\n" % (len(part), part))
                await asyncio.sleep(0.01)  # separate TCP segments
            conn.send(b"0\r\nX-Trailer: 1\r\n\r\n")

    async def main() -> None:
        async with serve(chunked) as server, client(server.url) as rpc:
            assert await rpc.call("echo", ["a" * 5000]) == ["a" * 5000]
            assert await rpc.call("echo", [2]) == [2]
        assert server.connections == 1 and len(server.requests) == 2

    run(main())


def test_answer_until_close_without_content_length(run: Callable[..., None]) -> None:
    async def until_close(state: Server, conn: Conn) -> None:
        request = await conn.request()
        assert request is not None
        state.requests.append(request)
        body = request.answer()
        conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n" + body[:4])
        await asyncio.sleep(0.01)
        conn.send(body[4:])
        await conn.writer.drain()
        conn.writer.close()

    async def main() -> None:
        async with serve(until_close) as server, client(server.url) as rpc:
            assert await rpc.call("echo", [1]) == [1]
            assert await rpc.call("echo", [2]) == [2]
        assert server.connections == 2  # a close-delimited answer's connection is not reused

    run(main())


def test_connection_close_is_never_reused(run: Callable[..., None]) -> None:
    async def says_close(state: Server, conn: Conn) -> None:
        # Says "close" but leaves the socket open: a reuse would show as a second request.
        while (request := await conn.request()) is not None:
            state.requests.append(request)
            conn.send(ok(request.answer(), "Connection: close"))
        state.client_closed.append(conn.index)

    async def main() -> None:
        async with serve(says_close) as server, client(server.url) as rpc:
            for i in range(3):
                assert await rpc.call("echo", [i]) == [i]
            pool = rpc._transport._pool
            assert pool is not None and pool.size == 0 and not pool.idle
            await asyncio.sleep(0.05)
        assert [r.connection for r in server.requests] == [0, 1, 2]
        assert sorted(server.client_closed) == [0, 1, 2]

    run(main())


def test_interim_100_continue_then_the_answer(run: Callable[..., None]) -> None:
    async def interim(state: Server, conn: Conn) -> None:
        while (request := await conn.request()) is not None:
            conn.send(b"HTTP/1.1 100 Continue\r\n\r\n")
            conn.send(ok(request.answer()))

    async def main() -> None:
        async with serve(interim) as server, client(server.url) as rpc:
            assert await rpc.call("echo", [1]) == [1]
            assert await rpc.call("echo", [2]) == [2]

    run(main())


def test_stray_bytes_after_an_answer_drop_the_connection(run: Callable[..., None]) -> None:
    async def stray(state: Server, conn: Conn) -> None:
        while (request := await conn.request()) is not None:
            state.requests.append(request)
            conn.send(ok(request.answer()) + b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]")

    async def main() -> None:
        async with serve(stray) as server, client(server.url) as rpc:
            assert await rpc.call("echo", [1]) == [1]
            assert await rpc.call("echo", [2]) == [2]
        assert [r.connection for r in server.requests] == [0, 1]

    run(main())


# -- closes and the keep-alive race ---------------------------------------------------------


def test_server_closing_idle_connections(run: Callable[..., None]) -> None:
    async def one_per_connection(state: Server, conn: Conn) -> None:
        request = await conn.request()
        assert request is not None
        state.requests.append(request)
        conn.send(ok(request.answer()))  # keep-alive answer, then the server closes anyway
        await conn.writer.drain()
        conn.writer.close()

    async def main() -> None:
        async with serve(one_per_connection) as server, client(server.url) as rpc:
            for i in range(6):
                assert await rpc.call("echo", [i]) == [i]
                if i % 2:
                    await asyncio.sleep(0.05)  # the close is seen while idle
            pool = rpc._transport._pool
            assert pool is not None and pool.size <= 1
        assert len(server.requests) == 6

    run(main())


def test_long_idle_connections_are_closed_not_reused(
    run: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transport_module, "IDLE_TIMEOUT", 0.05)

    async def recording(state: Server, conn: Conn) -> None:
        await keep_alive(state, conn)
        state.client_closed.append(conn.index)

    async def main() -> None:
        async with serve(recording) as server:
            transport = HttpTransport(server.url, max_connections=2)
            body = msgspec.json.encode({"jsonrpc": "2.0", "id": 1, "method": "e", "params": []})
            await asyncio.gather(transport.post(body, 5.0), transport.post(body, 5.0))
            pool = transport._pool
            assert pool is not None and pool.size == 2
            await asyncio.sleep(0.1)
            # The warmest idle connection is too old: a fresh one; the other, left at the
            # bottom of the stack, is closed when the fresh one comes back.
            assert (await transport.post(body, 5.0))[0] == 200
            assert pool.size == 1 and len(pool.idle) == 1
            assert (await transport.post(body, 5.0))[0] == 200
            await asyncio.sleep(0.05)
            await transport.close()
            await asyncio.sleep(0.05)
        connections = [r.connection for r in server.requests]
        assert sorted(connections[:2]) == [0, 1] and connections[2:] == [2, 2]
        assert sorted(server.client_closed) == [0, 1, 2]

    run(main())


def test_request_on_a_connection_the_server_closed_is_retried_once(
    run: Callable[..., None],
) -> None:
    # Each connection answers its first request only; a second request on it is read and the
    # connection closed without a byte of answer: the keep-alive race, made deterministic.
    async def first_only(state: Server, conn: Conn) -> None:
        request = await conn.request()
        assert request is not None
        state.requests.append(request)
        conn.send(ok(request.answer()))
        again = await conn.request()
        if again is not None:
            state.requests.append(again)
            conn.writer.close()

    async def main() -> None:
        async with (
            serve(first_only) as server,
            client(server.url) as rpc,
        ):  # retries=0: only the transport's own retry can help
            for i in range(3):
                assert await rpc.call("echo", [i]) == [i]
        # 1 + (failed reuse, fresh retry) x 2
        assert [r.connection for r in server.requests] == [0, 0, 1, 1, 2]

    run(main())


def test_the_keep_alive_retry_happens_once_only(run: Callable[..., None]) -> None:
    async def then_never(state: Server, conn: Conn) -> None:
        while (request := await conn.request()) is not None:
            state.requests.append(request)
            if len(state.requests) > 1:
                conn.writer.close()  # never answers again, on any connection
                return
            conn.send(ok(request.answer()))

    async def main() -> None:
        async with serve(then_never) as server, client(server.url) as rpc:
            assert await rpc.call("echo", [0]) == [0]
            error = await failure(rpc, 1)
            assert error.error is NODE_UNAVAILABLE
            assert details(error)["reason"] == "ServerDisconnected"
        assert [r.connection for r in server.requests] == [0, 0, 1]

    run(main())


def test_a_fresh_connection_closed_without_answer_is_not_retried(
    run: Callable[..., None],
) -> None:
    async def hang_up(state: Server, conn: Conn) -> None:
        request = await conn.request()
        assert request is not None
        state.requests.append(request)

    async def main() -> None:
        async with serve(hang_up) as server, client(server.url) as rpc:
            assert (await failure(rpc)).error is NODE_UNAVAILABLE
        assert len(server.requests) == 1

    run(main())


# -- broken answers -------------------------------------------------------------------------


def _broken(send: Callable[[Conn, Request], Awaitable[None]]) -> Handler:
    async def handler(state: Server, conn: Conn) -> None:
        while (request := await conn.request()) is not None:
            state.requests.append(request)
            await send(conn, request)

    return handler


async def _truncated(conn: Conn, request: Request) -> None:
    body = request.answer()
    conn.send(ok(body)[: -len(body) // 2])
    await conn.writer.drain()
    conn.writer.close()


async def _reset_mid_body(conn: Conn, request: Request) -> None:
    body = request.answer()
    conn.send(ok(body)[: -len(body) // 2])
    await conn.writer.drain()
    await asyncio.sleep(0.02)
    conn.reset()


async def _garbage_status(conn: Conn, request: Request) -> None:
    conn.send(b"HTTP/1.1 OK-ish\r\nContent-Length: 2\r\n\r\n[]")


async def _bad_chunk(conn: Conn, request: Request) -> None:
    conn.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n[]\r\n0\r\n\r\n")


async def _status_only(conn: Conn, request: Request) -> None:
    conn.send(b"HTTP/1.1 200 OK\r\n")  # then nothing, connection open: the timeout ends it


@pytest.mark.parametrize(
    ("send", "reasons"),
    [
        (_truncated, {"TruncatedResponse"}),
        (_reset_mid_body, {"TruncatedResponse", "ConnectionResetError"}),
        (_garbage_status, {"MalformedResponse"}),
        (_bad_chunk, {"MalformedResponse"}),
    ],
)
def test_broken_answers_are_transport_errors(
    run: Callable[..., None],
    send: Callable[[Conn, Request], Awaitable[None]],
    reasons: set[str],
) -> None:
    async def main() -> None:
        async with (
            serve(_broken(send)) as server,
            client(server.url, retries=1, timeout=5.0) as rpc,
        ):
            error = await failure(rpc, 1)
            assert error.error is NODE_UNAVAILABLE and details(error)["reason"] in reasons
            pool = rpc._transport._pool
            assert pool is not None and pool.size == 0  # nothing broken kept
        assert len(server.requests) == 2  # transient: retried by RpcClient

    run(main())


def test_headers_without_end_time_out(run: Callable[..., None]) -> None:
    async def main() -> None:
        async with serve(_broken(_status_only)) as server, client(server.url, timeout=0.3) as rpc:
            assert (await failure(rpc)).error is NODE_TIMEOUT

    run(main())


@pytest.mark.parametrize(
    ("status", "error", "posts"),
    [(500, NODE_UNAVAILABLE, 2), (429, NODE_UNAVAILABLE, 2), (404, NODE_ERROR, 2)],
)
def test_http_error_statuses(run: Callable[..., None], status: int, error: Any, posts: int) -> None:
    async def send(conn: Conn, request: Request) -> None:
        body = b"<html>nope</html>"
        conn.send(
            b"HTTP/1.1 %d Whatever\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n%b"
            % (status, len(body), body)
        )

    async def main() -> None:
        async with serve(_broken(send)) as server, client(server.url, retries=1) as rpc:
            failed = await failure(rpc)
            assert failed.error is error
            if error is NODE_UNAVAILABLE:
                assert details(failed)["http_status"] == status
            else:
                assert "invalid JSON (HTTP 404)" in details(failed)["reason"]
        assert len(server.requests) == posts
        assert {r.connection for r in server.requests} == {0}  # error answers keep alive

    run(main())


# -- timeouts, cancellation, the pool bound -------------------------------------------------


def test_timeout_closes_the_connection_and_the_late_answer_is_never_read(
    run: Callable[..., None],
) -> None:
    async def slow_first(state: Server, conn: Conn) -> None:
        while (request := await conn.request()) is not None:
            state.requests.append(request)
            if len(state.requests) == 1:
                await asyncio.sleep(0.5)
            conn.send(ok(request.answer()))
        state.client_closed.append(conn.index)

    async def main() -> None:
        async with serve(slow_first) as server, client(server.url, timeout=0.2) as rpc:
            error = await failure(rpc, "late")
            assert error.error is NODE_TIMEOUT and details(error)["timeout_s"] == 0.2
            assert await rpc.call("echo", ["own"], timeout=5.0) == ["own"]
            await asyncio.sleep(0.5)  # the late answer arrives: on a closed connection
            assert await rpc.call("echo", ["next"], timeout=5.0) == ["next"]
            await asyncio.sleep(0.05)
        assert server.client_closed[0] == 0
        assert [r.connection for r in server.requests] == [0, 1, 1]

    run(main())


def test_cancelled_caller_closes_its_connection(run: Callable[..., None]) -> None:
    async def slow_first(state: Server, conn: Conn) -> None:
        while (request := await conn.request()) is not None:
            state.requests.append(request)
            if len(state.requests) == 1:
                await asyncio.sleep(0.3)
            conn.send(ok(request.answer()))
        state.client_closed.append(conn.index)

    async def main() -> None:
        async with serve(slow_first) as server:
            transport = HttpTransport(server.url, max_connections=1)
            body = msgspec.json.encode({"jsonrpc": "2.0", "id": 1, "method": "e", "params": [1]})
            task = asyncio.ensure_future(transport.post(body, 5.0))
            await asyncio.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            pool = transport._pool
            assert pool is not None and pool.size == 0 and not pool.idle
            await asyncio.sleep(0.4)  # the late answer has been sent by now
            other = msgspec.json.encode({"jsonrpc": "2.0", "id": 2, "method": "e", "params": [2]})
            status, answer = await transport.post(other, 5.0)
            assert status == 200 and msgspec.json.decode(answer)["id"] == 2
            await transport.close()
            await asyncio.sleep(0.05)
        assert 0 in server.client_closed
        assert [r.connection for r in server.requests] == [0, 1]

    run(main())


def test_pool_is_bounded_and_waiters_get_connections(run: Callable[..., None]) -> None:
    async def slowish(state: Server, conn: Conn) -> None:
        while (request := await conn.request()) is not None:
            state.requests.append(request)
            await asyncio.sleep(0.01)
            conn.send(ok(request.answer()))

    async def main() -> None:
        async with serve(slowish) as server:
            transport = HttpTransport(server.url, max_connections=3)
            bodies = [
                msgspec.json.encode({"jsonrpc": "2.0", "id": i, "method": "e", "params": [i]})
                for i in range(40)
            ]
            answers = await asyncio.gather(*(transport.post(b, 5.0) for b in bodies))
            assert [msgspec.json.decode(a)["id"] for _, a in answers] == list(range(40))
            pool = transport._pool
            assert pool is not None and pool.size == 3 and len(pool.idle) == 3
            # LIFO: sequential requests keep using the most recently released connection.
            await transport.post(bodies[0], 5.0)
            await transport.post(bodies[1], 5.0)
            assert server.requests[-1].connection == server.requests[-2].connection
            # Waiting for a connection counts against the timeout too.
            blocked = [asyncio.ensure_future(transport.post(b, 5.0)) for b in bodies[:3]]
            await asyncio.sleep(0)
            with pytest.raises(TimeoutError):
                await transport.post(bodies[3], 0.001)
            await asyncio.gather(*blocked)
            assert pool.size == 3 and not pool.waiters
            await transport.close()
        assert server.connections == 3 and server.most_open == 3

    run(main())


def test_unreachable_and_unresolvable(run: Callable[..., None]) -> None:
    async def main() -> None:
        for url in (f"http://127.0.0.1:{free_port()}/", "http://no-such-host.invalid/"):
            rpc = client(url)
            try:
                assert (await failure(rpc)).error is NODE_UNAVAILABLE
                pool = rpc._transport._pool
                assert pool is not None and pool.size == 0
            finally:
                await rpc.close()
        transport = HttpTransport("http://127.0.0.1:99999/")  # no such port
        with pytest.raises(TransportError):
            await transport.post(b"{}", 1.0)

    run(main())


# -- https ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed: no certificate for the https test")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"]
        + ["-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_https(
    run: Callable[..., None], certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = certificate
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)

    async def main() -> None:
        async with serve(keep_alive, ssl_context=server_context, path="/rpc") as server:
            # The default context verifies: a certificate nobody vouches for is refused...
            async with client(server.url) as rpc:
                error = await failure(rpc)
                assert error.error is NODE_UNAVAILABLE
                assert "Cert" in details(error)["reason"] or "SSL" in details(error)["reason"]
            # ...and one the default verify paths trust is accepted.
            monkeypatch.setenv("SSL_CERT_FILE", str(cert))
            async with client(server.url) as rpc:
                assert await rpc.call("echo", [1]) == [1]
                assert await rpc.call("echo", [2]) == [2]
        assert [r.line for r in server.requests] == ["POST /rpc HTTP/1.1"] * 2
        assert len({r.connection for r in server.requests}) == 1

    run(main())
