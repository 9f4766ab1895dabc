"""Connection hygiene against a real node on anvil (issue 15, items 1, 2, 9, 13): request-head
size, the time to send a whole request, the cap on open connections.

Counts and times are small and bounded; every socket is loopback and closed by the test.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import socket
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from rosetta_node import errors as catalog
from rosetta_node.devnet import Anvil
from tests.conftest import CHAIN_ID, NETWORK, Devnet, NodeProcess, RosettaClient
from tests.fault_proxy import FaultProxy
from tests.spec_check import validate_response

CLIENT_TIMEOUT = 2.0


@pytest.fixture(scope="module")
def strict(anvil: Anvil) -> Iterator[NodeProcess]:
    process = NodeProcess(
        ["--rpc-url", anvil.url, "--chain-id", str(CHAIN_ID)],
        env={
            "ROSETTA_NODE_CLIENT_TIMEOUT": str(CLIENT_TIMEOUT),
            "ROSETTA_NODE_MAX_HEADER_BYTES": "16384",
        },
    )
    try:
        process.wait()
        yield process
    finally:
        process.stop()


def _address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


def _connect(url: str) -> socket.socket:
    return socket.create_connection(_address(url), timeout=10)


def _answer(sock: socket.socket, timeout: float = 10.0) -> bytes:
    """Everything the node sends until it closes the connection (b"" if it sends nothing)."""
    sock.settimeout(timeout)
    chunks = []
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _network_list(url: str) -> int:
    return requests.post(url + "/network/list", json={}, timeout=5).status_code


def test_a_huge_request_head_is_refused_and_not_kept(strict: NodeProcess) -> None:
    before = _rss_kb(strict.pid)
    socks = [_connect(strict.url) for _ in range(20)]
    try:
        for sock in socks:  # 2 MB of one header, never finished
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: ")
            with contextlib.suppress(OSError):  # the node may close before all of it is sent
                sock.sendall(b"a" * 2_000_000)
        answers = [_answer(sock) for sock in socks]
        grown = _rss_kb(strict.pid) - before
    finally:
        for sock in socks:
            sock.close()
    assert all(a.startswith(b"HTTP/1.1 431 ") for a in answers), {a[:40] for a in answers}
    assert grown < 20_000, f"RSS grew {grown} kB"
    # A complete request with a big head is refused too, in one read with its body or not.
    head = b"POST /network/list HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 20_000 + b"\r\n"
    with _connect(strict.url) as sock:
        sock.sendall(head + b"Content-Length: 2\r\n\r\n{}")
        assert _answer(sock).startswith(b"HTTP/1.1 431 ")
    assert _network_list(strict.url) == 200


def test_slow_heads_are_closed_and_others_served(strict: NodeProcess) -> None:
    socks = [_connect(strict.url) for _ in range(30)]
    started = time.monotonic()
    try:
        for sock in socks:
            sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        closed: dict[int, bytes] = {}
        served = 0
        while len(closed) < len(socks) and time.monotonic() - started < CLIENT_TIMEOUT + 4:
            for i, sock in enumerate(socks):  # a header line every 0.5 s, as slowloris does
                if i in closed:
                    continue
                try:
                    sock.sendall(b"X-a: b\r\n")
                except OSError:
                    closed[i] = _answer(sock, 1)
            assert _network_list(strict.url) == 200  # meanwhile, others are served
            served += 1
            time.sleep(0.5)
        for i, sock in enumerate(socks):
            if i not in closed:
                sock.settimeout(0.2)
                with contextlib.suppress(TimeoutError):
                    if sock.recv(1, socket.MSG_PEEK) == b"":
                        closed[i] = b""
        elapsed = time.monotonic() - started
    finally:
        for sock in socks:
            sock.close()
    assert len(closed) == len(socks), f"{len(socks) - len(closed)} slow connections still open"
    assert elapsed < CLIENT_TIMEOUT + 4 and served >= 3
    assert any(a.startswith(b"HTTP/1.1 408 ") for a in closed.values())


def test_a_slow_body_is_the_clients_error_in_each_dialect(strict: NodeProcess) -> None:
    node = RosettaClient(strict.url)
    for path in ("/network/status", "/rpc/IndexerGateway/Ping"):
        with _connect(strict.url) as sock:
            started = time.monotonic()
            sock.sendall(
                f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                "Content-Length: 100\r\n\r\n{".encode()
            )
            answer = _answer(sock, CLIENT_TIMEOUT + 5)
            elapsed = time.monotonic() - started
        head, _, body = answer.partition(b"\r\n\r\n")
        assert elapsed < CLIENT_TIMEOUT + 2, elapsed
        if path == "/network/status":
            assert head.startswith(b"HTTP/1.1 500 "), answer[:200]
            decoded = requests.models.complexjson.loads(body)
            node._check(path, 500, decoded)
            assert decoded["code"] == catalog.CLIENT_TOO_SLOW.code, decoded
        else:
            assert head.startswith(b"HTTP/1.1 408 "), answer[:200]
            decoded = requests.models.complexjson.loads(body)
            validate_response(path, 408, decoded, spec="sequence.yaml")
            assert decoded["error"] == "Timeout", decoded


def _limited_python(tmp_path: Path, nofile: int) -> str:
    """An interpreter wrapper that starts the node under ``ulimit -n nofile``."""
    import sys

    wrapper = tmp_path / "python-ulimit"
    wrapper.write_text(f'#!/bin/sh\nulimit -n {nofile}\nexec "{sys.executable}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return str(wrapper)


def test_the_connection_cap_keeps_descriptors_and_serves_others(
    anvil: Anvil, tmp_path: Path
) -> None:
    # Under ulimit -n 128 the cap becomes 128 - 64 reserved - 32 for the RPC pool = 32; 150
    # silent connections would otherwise take every descriptor (accept fails, nobody served).
    process = NodeProcess(
        ["--rpc-url", anvil.url, "--chain-id", str(CHAIN_ID)],
        env={"ROSETTA_NODE_CLIENT_TIMEOUT": "30"},
        python=_limited_python(tmp_path, 128),
    )
    socks: list[socket.socket] = []
    try:
        process.wait()
        assert "max_connections lowered from 1000 to 32" in process.output()
        for _ in range(150):
            socks.append(_connect(process.url))
            socks[-1].sendall(b"GET /healthz HTTP/1.1\r\n")  # and never more
        for _ in range(5):
            started = time.monotonic()
            assert _network_list(process.url) == 200
            assert time.monotonic() - started < 2
        open_fds = len(list(Path(f"/proc/{process.pid}/fd").iterdir()))
        assert open_fds < 128, open_fds
    finally:
        for sock in socks:
            sock.close()
        process.stop()


def test_past_the_cap_with_every_connection_busy_a_503(anvil: Anvil, devnet: Devnet) -> None:
    proxy = FaultProxy(anvil.url).start()
    process = NodeProcess(
        ["--rpc-url", proxy.url, "--chain-id", str(CHAIN_ID)],
        env={"ROSETTA_NODE_MAX_CONNECTIONS": "3", "ROSETTA_NODE_RPC_RETRIES": "0"},
    )
    try:
        process.wait()
        body = {
            "network_identifier": NETWORK,
            "account_identifier": {"address": devnet.workload.accounts[1]},
            "block_identifier": {"index": 10},
        }
        proxy.arm("delay", seconds=3.0)
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            busy = [
                pool.submit(requests.post, process.url + "/account/balance", json=body, timeout=20)
                for _ in range(3)
            ]
            time.sleep(1.0)  # the three requests are received and wait for the node
            with _connect(process.url) as sock:
                answer = _answer(sock, 5)
            assert answer.startswith(b"HTTP/1.1 503 "), answer[:100]
            assert b"retry-after: 1" in answer.lower()
            assert all(f.result().status_code == 200 for f in busy)
        proxy.disarm()
        assert _network_list(process.url) == 200
    finally:
        process.stop()
        proxy.stop()
