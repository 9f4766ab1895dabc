"""Configuration (file, environment, flags) and how the node starts next to its RPC node."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rosetta_node import errors as catalog
from rosetta_node.devnet import Anvil, free_port
from rosetta_node.settings import ConfigError, load_settings, redact_url
from tests.conftest import CHAIN_ID, NETWORK, ROOT, JsonRpc, NodeProcess, RosettaClient


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_file_then_env_then_flags(tmp_path: Path) -> None:
    tokens = write(tmp_path / "tokens.json", json.dumps({"tokens": []}))
    config = write(
        tmp_path / "node.toml",
        f"""
[server]
port = 9000

[[networks]]
rpc_url = "http://10.1.1.1:8545"
chain_id = 5
network = "file-net"
token_list = "{tokens.name}"
[networks.native]
symbol = "XYZ"
decimals = 9
""",
    )
    env = {
        "ROSETTA_NODE_PORT": "9100",
        "ROSETTA_NODE_NETWORK": "env-net",
        "ROSETTA_NODE_NETWORKS_0_RPC_TIMEOUT": "3.5",
        "ROSETTA_NODE_TOOLS_DIR": "/elsewhere",  # not a setting: ignored
    }
    settings = load_settings(config, env=env)
    assert settings.server.port == 9100
    net = settings.networks[0]
    assert (net.network, net.chain_id, net.rpc_timeout) == ("env-net", 5, 3.5)
    assert (net.native.symbol, net.native.decimals) == ("XYZ", 9)
    assert net.token_list == str(tokens)  # relative to the config file
    flagged = load_settings(config, env=env, overrides={"port": 9200, "chain_id": 6})
    assert (flagged.server.port, flagged.networks[0].chain_id) == (9200, 6)


@pytest.mark.parametrize(
    ("text", "env", "named"),
    [
        ('[[networks]]\nrpc_url = "http://x:1"\nchain_id = "abc"\n', {}, "networks[0].chain_id"),
        ('[[networks]]\nrpc_url = "http://x:1"\ncolour = 1\n', {}, "colour"),
        ('[[networks]]\nrpc_url = "ftp://x"\n', {}, "networks[0].rpc_url"),
        ('[server]\nport = 99999\n[[networks]]\nrpc_url = "http://x:1"\n', {}, "server.port"),
        (
            '[[networks]]\nrpc_url = "http://x:1"\ntoken_list = "nope.json"\n',
            {},
            "networks[0].token_list",
        ),
        (
            "",
            {"ROSETTA_NODE_CHAIN_ID": "-4", "ROSETTA_NODE_RPC_URL": "http://x:1"},
            "networks[0].chain_id",
        ),
        ("", {"ROSETTA_NODE_RPC_URLL": "http://x:1"}, "ROSETTA_NODE_RPC_URLL"),
        ('[[networks]]\nrpc_url = "http://x:1"\nfamily = "solana"\n', {}, "networks[0].family"),
        (
            "",
            {"ROSETTA_NODE_RPC_URL": "http://x:1", "ROSETTA_NODE_FORKS": "{byzantium"},
            "ROSETTA_NODE_FORKS",
        ),
        ("", {}, "networks"),
        ("[[networks]\n", {}, "not valid TOML"),
    ],
)
def test_bad_settings_name_the_key(
    tmp_path: Path, text: str, env: dict[str, str], named: str
) -> None:
    config = write(tmp_path / "bad.toml", text)
    with pytest.raises(ConfigError) as info:
        load_settings(config, env=env)
    assert named in str(info.value)


def test_redacted_urls_hide_credentials() -> None:
    assert redact_url("https://user:secret@node.example:8545/v3/KEY?token=abc") == (
        "https://node.example:8545/..."
    )


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rosetta_node", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_wrong_chain_id_is_refused_at_start(anvil: Anvil) -> None:
    result = run_cli("serve", "--rpc-url", anvil.url, "--chain-id", "1", "--port", str(free_port()))
    assert result.returncode == 2
    assert "chain id 31337" in result.stderr and "1" in result.stderr


def test_bad_config_file_exits_with_the_key(tmp_path: Path) -> None:
    config = write(tmp_path / "c.toml", '[[networks]]\nrpc_url = "http://x:1"\nchain_id = "z"\n')
    result = run_cli("serve", "--config", str(config))
    assert result.returncode == 2
    assert "networks[0].chain_id" in result.stderr


def test_serve_help_documents_every_option() -> None:
    result = run_cli("serve", "--help")
    assert result.returncode == 0
    for option in (
        "--config",
        "--rpc-url",
        "--chain-id",
        "--token-list",
        "--genesis-file",
        "--host",
        "--port",
        "--log-level",
        "--devnet",
    ):
        assert option in result.stdout


@pytest.mark.devnet
def test_node_started_before_its_rpc_node(tmp_path: Path) -> None:
    """A sidecar often starts first: answer retriable errors, then recover by itself."""
    port = free_port()
    process = NodeProcess(["--rpc-url", f"http://127.0.0.1:{port}", "--chain-id", str(CHAIN_ID)])
    chain = Anvil()
    try:
        process.wait()
        node = RosettaClient(process.url)
        body = node.post("/network/status", {"network_identifier": NETWORK}).body
        assert body["code"] == catalog.NODE_UNAVAILABLE.code and body["retriable"] is True
        chain.start(port=port)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            answer = node.post("/network/status", {"network_identifier": NETWORK})
            if answer.status == 200:
                break
            assert answer.body["retriable"] is True
            time.sleep(0.25)
        else:
            pytest.fail("node did not recover after its RPC node started")
        head = JsonRpc(chain.url)("eth_getBlockByNumber", "latest", False)
        assert answer.body["current_block_identifier"]["hash"] == head["hash"]
        # and when the RPC node goes away again, errors are retriable, never wrong answers
        chain.stop()
        gone = node.post(
            "/account/balance",
            {
                "network_identifier": NETWORK,
                "account_identifier": {"address": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"},
            },
        ).body
        assert gone["retriable"] is True and gone["code"] in (
            catalog.NODE_UNAVAILABLE.code,
            catalog.NODE_TIMEOUT.code,
        )
    finally:
        process.stop()
        chain.stop()


def test_environment_only_configuration(anvil: Anvil, tmp_path: Path) -> None:
    env = {
        "ROSETTA_NODE_RPC_URL": anvil.url,
        "ROSETTA_NODE_CHAIN_ID": str(CHAIN_ID),
        "ROSETTA_NODE_NETWORK": "envnet",
        "ROSETTA_NODE_BLOCKCHAIN": "Ethereum",
    }
    process = NodeProcess([], env=env)
    try:
        process.wait()
        node = RosettaClient(process.url)
        ident = {"blockchain": "Ethereum", "network": "envnet"}
        assert node.ok("/network/list", {})["network_identifiers"] == [ident]
        node.ok("/network/status", {"network_identifier": ident})
    finally:
        process.stop()


def test_two_networks_from_one_config_file(anvil: Anvil, tmp_path: Path) -> None:
    with Anvil(chain_id=1337) as other:
        config = write(
            tmp_path / "two.toml",
            f"""
[[networks]]
rpc_url = "{anvil.url}"
chain_id = {CHAIN_ID}
network = "first"

[[networks]]
rpc_url = "{other.url}"
chain_id = 1337
network = "second"
[networks.native]
symbol = "TST"
decimals = 18
""",
        )
        process = NodeProcess(["--config", str(config)])
        try:
            process.wait()
            node = RosettaClient(process.url)
            idents = node.ok("/network/list", {})["network_identifiers"]
            assert [i["network"] for i in idents] == ["first", "second"]
            for ident, chain in ((idents[0], anvil), (idents[1], other)):
                status = node.ok("/network/status", {"network_identifier": ident})
                genesis = JsonRpc(chain.url)("eth_getBlockByNumber", "0x0", False)
                assert status["genesis_block_identifier"]["hash"] == genesis["hash"]
            balance = node.ok(
                "/account/balance",
                {
                    "network_identifier": idents[1],
                    "account_identifier": {"address": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"},
                },
            )
            assert balance["balances"][0]["currency"] == {"symbol": "TST", "decimals": 18}
        finally:
            process.stop()


@pytest.mark.devnet
def test_genesis_allocations_become_operations(tmp_path: Path) -> None:
    alloc = {
        "0x1000000000000000000000000000000000000001": {"balance": hex(5 * 10**18)},
        "0x2000000000000000000000000000000000000002": {"balance": hex(7)},
    }
    genesis = write(
        tmp_path / "genesis.json",
        json.dumps(
            {
                "config": {
                    "chainId": CHAIN_ID,
                    "cancunTime": 0,
                    "shanghaiTime": 0,
                    "londonBlock": 0,
                },
                "alloc": alloc,
                "timestamp": hex(1_700_000_000),
                "gasLimit": hex(30_000_000),
                "baseFeePerGas": hex(10**9),
                "difficulty": "0x0",
                "extraData": "0x",
            }
        ),
    )
    with Anvil() as chain:
        chain.stop()
        chain.start(extra_args=["--init", str(genesis)])
        rpc = JsonRpc(chain.url)
        process = NodeProcess(
            ["--rpc-url", chain.url, "--chain-id", str(CHAIN_ID), "--genesis-file", str(genesis)]
        )
        try:
            process.wait()
            node = RosettaClient(process.url)
            block = node.ok(
                "/block", {"network_identifier": NETWORK, "block_identifier": {"index": 0}}
            )["block"]
            ops = [op for tx in block["transactions"] for op in tx["operations"]]
            assert {op["type"] for op in ops} == {"GENESIS"}
            credited = {op["account"]["address"].lower(): int(op["amount"]["value"]) for op in ops}
            for address in alloc:
                assert credited[address] == rpc.balance(address, 0)
        finally:
            process.stop()


@pytest.mark.devnet
def test_serve_devnet_stops_its_anvil_on_sigterm() -> None:
    """`serve --devnet` (what scripts/serve-devnet runs) owns the anvil it started: a SIGTERM
    to the node (docker stop, systemd, kill) stops that anvil too, instead of orphaning it."""
    process = NodeProcess(["--devnet"])
    try:
        process.wait()
        started = re.search(r"started anvil devnet at \S+ \(pid (\d+)\)", process.output())
        assert started is not None, process.output()
        anvil_pid = int(started.group(1))
        os.kill(anvil_pid, 0)  # alive while the node serves
        process.process.terminate()
        process.process.wait(timeout=30)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(anvil_pid, 0)
            except ProcessLookupError:
                break
            if _zombie(anvil_pid):
                break
            time.sleep(0.1)
        else:
            os.kill(anvil_pid, 9)
            pytest.fail("anvil outlived the node that started it")
    finally:
        process.stop()


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True
