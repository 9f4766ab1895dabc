"""What the Docker image runs, without a Docker engine: the Dockerfile's own install commands
into a fresh virtual environment, then its ENTRYPOINT with environment-only configuration."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from rosetta_node.devnet import Anvil, free_port
from tests.conftest import CHAIN_ID, ROOT, TRANSLATORS_ONLY, wait_for_node

pytestmark = pytest.mark.devnet  # every test here starts a node

DOCKERFILE = ROOT / "Dockerfile"


def _dockerfile() -> tuple[list[list[str]], str, dict[str, str], list[str], list[str]]:
    """(COPY sources, RUN command of the build stage, ENV, ENTRYPOINT, HEALTHCHECK CMD)."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    copies: list[list[str]] = []
    run = ""
    env: dict[str, str] = {}
    entrypoint: list[str] = []
    health: list[str] = []
    stage = 0
    for line in text.splitlines():
        word, _, rest = line.strip().partition(" ")
        if word == "FROM":
            stage += 1
        elif word == "COPY" and stage == 1:
            copies.append(shlex.split(rest)[:-1])
        elif word == "RUN" and stage == 1:
            run = rest
        elif word == "ENV":
            key, _, value = rest.partition("=")
            env[key] = value
        elif word == "ENTRYPOINT":
            entrypoint = json.loads(rest)
        elif word == "HEALTHCHECK":
            health = json.loads(rest.split(" CMD ", 1)[1])
    return copies, run, env, entrypoint, health


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv built by the Dockerfile's RUN line from the files its COPY lines name."""
    copies, run, _, _, _ = _dockerfile()
    root = tmp_path_factory.mktemp("image")
    src = root / "src"
    src.mkdir()
    for sources in copies:
        for name in sources:
            target = src / name
            if (ROOT / name).is_dir():
                shutil.copytree(ROOT / name, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(ROOT / name, target)
    venv = root / "opt" / "venv"
    command = run.replace("/opt/venv", str(venv)).replace(
        "python -m venv", f"{sys.executable} -m venv"
    )
    assert "pip install" in command
    subprocess.run(
        command,
        shell=True,
        cwd=src,
        check=True,
        timeout=600,  # noqa: S602
        capture_output=True,
    )
    return venv


def test_entrypoint_with_env_only_follows_the_node(image: Path) -> None:
    _, _, env, entrypoint, health = _dockerfile()
    port = free_port()
    anvil_port = free_port()
    chain = Anvil()
    # The same chain after the restart (anvil writes its state on exit): a node restart, not
    # a new chain, which the index would rightly refuse (another genesis).
    state = ["--state", str(image.parent.parent / "anvil-state.json")]
    chain.start(port=anvil_port, extra_args=state)
    environment = {
        "PATH": f"{image / 'bin'}:{os.environ['PATH']}",
        "HOME": os.environ.get("HOME", "/tmp"),
        **{k: v.replace("$PATH", os.environ["PATH"]) for k, v in env.items() if k != "PATH"},
        "ROSETTA_NODE_HOST": "127.0.0.1",  # loopback only in tests
        "ROSETTA_NODE_PORT": str(port),
        "ROSETTA_NODE_RPC_URL": chain.url,
        "ROSETTA_NODE_CHAIN_ID": str(CHAIN_ID),
        "ROSETTA_NODE_INDEX_DB": str(image.parent.parent / "data" / "index.sqlite"),
        "ROSETTA_NODE_API_KEYS": "container-key",
        **TRANSLATORS_ONLY,
    }
    (image.parent.parent / "data").mkdir(exist_ok=True)
    process = subprocess.Popen(
        entrypoint, env=environment, cwd="/", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_node(url, process)
        code = str(image / "bin" / "python")
        assert subprocess.run([code, *health[1:]], env=environment, timeout=30).returncode == 0
        ready = requests.get(url + "/readyz", timeout=10)
        assert ready.status_code == 200 and "index" in ready.json()["networks"][0], ready.text
        tokens = requests.get(
            url + "/v1/account/tokens",
            params={"chain_id": CHAIN_ID, "address": "0x" + "ab" * 20},
            headers={"x-api-key": "container-key"},
            timeout=10,
        )
        assert tokens.status_code == 200 and tokens.json()["code"] == 0, tokens.text
        assert requests.get(url + "/v1/account/tokens", timeout=10).status_code == 401
        # The image carries the PostgreSQL driver (ROSETTA_NODE_INDEX_URL works in it).
        assert subprocess.run([code, "-c", "import asyncpg"], timeout=30).returncode == 0
        chain.stop()
        down = requests.get(url + "/readyz", timeout=20)
        assert down.status_code == 503 and down.json()["networks"][0]["problems"]
        assert (
            subprocess.run(
                [code, *health[1:]], env=environment, timeout=30, capture_output=True
            ).returncode
            == 1
        )
        chain.start(port=anvil_port, extra_args=state)
        deadline = time.monotonic() + 30
        while requests.get(url + "/readyz", timeout=10).status_code != 200:
            assert time.monotonic() < deadline, "not ready again after the node came back"
            time.sleep(0.25)
        assert process.poll() is None, "recovered without a restart"
    finally:
        process.terminate()
        process.wait(timeout=10)
        chain.stop()
