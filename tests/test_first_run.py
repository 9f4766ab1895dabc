"""The first run, as a new user has it: ``scripts/serve-devnet`` serves a chain with something on
it, every ``curl`` in the README (and every command it prints at start) answers 200 with data,
and one Ctrl-C stops everything it started."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from rosetta_node import demo
from rosetta_node.devnet import free_port
from tests.support.rpc import JsonRpc

pytestmark = pytest.mark.devnet

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 240.0  # scripts/setup runs first (a no-op once installed)


@dataclass
class FirstRun:
    url: str
    process: subprocess.Popen[str]
    output: list[str]  # what it printed up to the commands to paste
    anvil_pid: int
    anvil_url: str


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FirstRun]:
    port = free_port()
    data = tmp_path_factory.mktemp("devnet-data")
    process = subprocess.Popen(
        [str(ROOT / "scripts" / "serve-devnet"), "--port", str(port), "--devnet-data", str(data)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: the test's Ctrl-C goes to it alone
    )
    assert process.stdout is not None
    output: list[str] = []
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                raise AssertionError("serve-devnet ended early:\n" + "".join(output))
            output.append(line)
            if line.startswith("  curl") and "token/holders" in line:
                break
        started = next(m for line in output if (m := re.search(r"at (\S+) \(pid (\d+)\)", line)))
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url)
        yield FirstRun(url, process, output, int(started.group(2)), started.group(1))
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _wait_ready(url: str, timeout: float = 60.0) -> None:
    """Until /readyz says both indexes have caught up with the chain."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/readyz", timeout=5).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url}/readyz never answered 200")


def _readme_curls() -> list[str]:
    """Every curl command in the README's sh blocks, continuation lines joined."""
    text = (ROOT / "README.md").read_text()
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for command in block.replace("\\\n", " ").splitlines():
            if command.strip().startswith("curl "):
                commands.append(command.strip())
    return commands


def _run(command: str) -> tuple[int, Any]:
    """The command as written (its own quoting, run by the shell), then its HTTP status."""
    body = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60)
    assert body.returncode == 0, (command, body.stderr)
    status = subprocess.run(
        ["bash", "-c", command + " -o /dev/null -w '%{http_code}'"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return int(status.stdout), json.loads(body.stdout)


def _has_data(answer: Any) -> bool:
    """Something in the answer beyond the envelope: a non-empty list or object of data."""
    if isinstance(answer, dict):
        if "data" in answer:  # Chainbase
            return bool(answer["data"])
        return any(_has_data(v) or (v not in ([], {}, None, "")) for v in answer.values())
    return bool(answer)


def test_the_readme_examples_work_as_written(first_run: FirstRun) -> None:
    commands = _readme_curls()
    assert len(commands) >= 6, commands
    port = first_run.url.rsplit(":", 1)[1]
    for written in commands:
        command = written.replace("localhost:8080", f"127.0.0.1:{port}")
        status, answer = _run(command)
        assert status == 200, (written, answer)
        assert _has_data(answer), (written, answer)


def test_the_printed_commands_work(first_run: FirstRun) -> None:
    printed = [line.strip() for line in first_run.output if line.startswith("  curl ")]
    assert len(printed) == 4
    for command in printed:
        status, answer = _run(command)
        assert status == 200 and _has_data(answer), (command, answer)


def test_the_chain_has_the_demo_on_it(first_run: FirstRun) -> None:
    """The tokens are where the README says, with a history the chain itself shows."""
    rpc = JsonRpc(first_run.anvil_url)
    readme = (ROOT / "README.md").read_text()
    for token, (_, symbol, decimals) in zip(demo.TOKEN_ADDRESSES, demo.TOKENS, strict=True):
        assert token in readme
        assert rpc("eth_getCode", token, "latest") != "0x"
        assert rpc.token_balance(token, demo.ALICE, "latest") >= 0
        assert f"{symbol} ({decimals})" in readme or f"{symbol} ({decimals} decimals)" in readme
    logs = rpc("eth_getLogs", {"fromBlock": "0x0", "toBlock": "latest"})
    assert {log["address"].lower() for log in logs} >= {t.lower() for t in demo.TOKEN_ADDRESSES}
    # The failed transaction of the short history.
    failed = [
        r
        for n in range(1, 20)
        for r in rpc("eth_getBlockReceipts", hex(n)) or []
        if r["status"] == "0x0"
    ]
    assert [r["to"].lower() for r in failed] == [demo.REVERTER.lower()]


def test_the_chain_keeps_moving(first_run: FirstRun) -> None:
    rpc = JsonRpc(first_run.anvil_url)
    before = int(rpc("eth_blockNumber"), 16)
    deadline = time.monotonic() + 30
    while int(rpc("eth_blockNumber"), 16) <= before:
        assert time.monotonic() < deadline, "no new block in 30 s"
        time.sleep(0.5)


def test_pages_point_to_the_api_page(first_run: FirstRun) -> None:
    home = requests.get(first_run.url + "/", timeout=10)
    assert home.status_code == 200 and 'href="/docs"' in home.text
    assert 'href="/openapi.json"' in home.text
    page = requests.get(first_run.url + "/docs", timeout=10)
    assert page.status_code == 200 and "/openapi.json" in page.text
    for asset in re.findall(r'(?:src|href)="(/docs/static/[^"]+)"', page.text):
        answer = requests.get(first_run.url + asset, timeout=10)
        assert answer.status_code == 200 and len(answer.content) > 100, asset
    hidden = requests.get(first_run.url + "/docs/static/oauth2-redirect.html", timeout=10)
    assert hidden.status_code == 404


def test_one_ctrl_c_stops_everything(first_run: FirstRun) -> None:
    """Last in this module: SIGINT to the process group, as a terminal's Ctrl-C sends it."""
    assert _pid_alive(first_run.anvil_pid)
    os.killpg(first_run.process.pid, signal.SIGINT)
    assert first_run.process.wait(timeout=30) is not None
    deadline = time.monotonic() + 10
    while _pid_alive(first_run.anvil_pid):
        assert time.monotonic() < deadline, "anvil still runs after Ctrl-C"
        time.sleep(0.2)


def test_version_and_devnet_help() -> None:
    node = str(ROOT / ".venv" / "bin" / "rosetta-node")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True)
    assert re.fullmatch(r"rosetta-node \d+\.\d+\.\d+\n", version.stdout)
    help_text = subprocess.run(
        [node, "serve", "--help"], capture_output=True, text=True, check=True
    ).stdout
    flat = " ".join(help_text.split())
    for _, symbol, _ in demo.TOKENS:
        assert symbol in flat
    assert "--devnet-activity" in flat and "--devnet-empty" in flat
