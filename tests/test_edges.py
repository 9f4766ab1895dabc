"""Small edges found by probing the node (issue 15, items 7, 8, 10, 11), against anvil."""

from __future__ import annotations

import random
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families

from rosetta_node.devnet import Anvil
from tests.conftest import CHAIN_ID, NodeProcess, RosettaClient
from tests.spec_check import validate_response
from tests.support.node import settings_free_env


def _requests_counted(url: str) -> dict[tuple[str, str], float]:
    text = requests.get(url + "/metrics", timeout=10).text
    return {
        (s.labels["route"], s.labels["outcome"]): s.value
        for family in text_string_to_metric_families(text)
        if family.name == "rosetta_node_requests"
        for s in family.samples
        if s.name == "rosetta_node_requests_total"
    }


def test_a_block_number_past_int64_is_a_parameter_error(node: RosettaClient) -> None:
    for to_block in (str(2**63), hex(2**63), "99999999999999999999"):
        answer = requests.get(
            node.url + "/v1/account/balance",
            params={"chain_id": CHAIN_ID, "address": "0x" + "ab" * 20, "to_block": to_block},
            timeout=10,
        )
        body = answer.json()
        validate_response("/v1/account/balance", 422, body, spec="chainbase.yaml", method="get")
        assert answer.status_code == 422 and "to_block" in body["message"], body
    assert requests.get(
        node.url + "/v1/account/balance",
        params={"chain_id": CHAIN_ID, "address": "0x" + "ab" * 20, "to_block": str(2**63 - 1)},
        timeout=10,
    ).json()["code"] in (404, 503)  # a valid number, far above the head


def test_unknown_paths_and_methods_are_client_errors(node: RosettaClient) -> None:
    before = _requests_counted(node.url)
    assert requests.get(node.url + "/nope", timeout=10).status_code == 404
    assert requests.get(node.url + "/network/list", timeout=10).status_code == 405
    after = _requests_counted(node.url)
    grown = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    assert grown.get(("other", "client_error")) == 1, grown
    assert grown.get(("/network/list", "client_error")) == 1, grown
    assert not any(outcome == "internal_error" for _, outcome in grown), grown


def test_no_redirect_is_built_from_the_host_header(node: RosettaClient) -> None:
    host, port = node.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /account/balance/ HTTP/1.1\r\nHost: evil.example\r\n"
            b"Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 404 "), answer[:200]
    assert b"evil.example" not in answer and b"location:" not in answer.lower()


def _damaged_sqlite(path: Path) -> None:
    """A SQLite file with good header and schema pages and random bytes in its data pages."""
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT)")
    con.executemany("INSERT INTO t VALUES (?, ?)", [(i, "x" * 100) for i in range(5000)])
    con.commit()
    con.close()
    with open(path, "r+b") as file:
        file.seek(4096 * 3)
        file.write(random.Random(1).randbytes(4096 * 4))


def test_a_damaged_index_file_is_named_at_start_and_by_readyz(anvil: Anvil, tmp_path: Path) -> None:
    db = tmp_path / "index.sqlite"
    _damaged_sqlite(db)
    env = {"ROSETTA_NODE_INDEX_DB": str(db)}
    args = ["--rpc-url", anvil.url, "--chain-id", str(CHAIN_ID)]
    check = subprocess.run(
        [sys.executable, "-m", "rosetta_node", "check-config", *args],
        env={**settings_free_env(), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 1, check.stdout + check.stderr
    assert f"index networks[0] {db}: index file {db} is damaged" in check.stdout
    process = NodeProcess(args, env=env)
    try:
        process.wait()
        deadline = time.monotonic() + 20
        while True:
            answer = requests.get(process.url + "/readyz", timeout=10)
            problems = answer.json()["networks"][0]["problems"]
            if any("damaged" in p for p in problems) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert answer.status_code == 503
        assert any(f"index file {db} is damaged" in p for p in problems), problems
    finally:
        process.stop()
