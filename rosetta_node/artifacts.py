"""Compiled contracts shipped with the package (``rosetta_node/contracts``: our own Solidity,
built offline by ``tests/contracts/compile.js``): the balance reader, and the ERC-20 token,
forwarder and reverter the devnet's demonstration chain (and the tests) deploy."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def artifact(name: str) -> dict[str, Any]:
    """``{"abi": [...], "bytecode": "0x..."}`` of contract ``name``."""
    text = resources.files("rosetta_node").joinpath("contracts", f"{name}.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


def bytecode(name: str) -> str:
    code: str = artifact(name)["bytecode"]
    return code if code.startswith("0x") else "0x" + code
