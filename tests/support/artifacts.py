"""Compiled test contracts: the package's own (:mod:`rosetta_node.artifacts`), else those in
``tests/contracts/build`` (sources in ``tests/contracts/src``; see its README to rebuild)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rosetta_node import artifacts

BUILD_DIR = Path(__file__).resolve().parents[1] / "contracts" / "build"


def artifact(name: str) -> dict[str, Any]:
    path = BUILD_DIR / f"{name}.json"
    if path.is_file():
        data: dict[str, Any] = json.loads(path.read_text())
        return data
    try:
        return artifacts.artifact(name)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"no artifact {name}: build the contracts (see tests/contracts/README.md)"
        ) from None


def bytecode(name: str) -> str:
    code: str = artifact(name)["bytecode"]
    return code if code.startswith("0x") else "0x" + code
