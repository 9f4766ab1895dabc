"""The official Sequence indexer client (npm ``@0xsequence/indexer``, pinned), and its types.

The package is installed once into ``.tools/sequence-client`` (as anvil is, with the same
lock). :func:`call` runs methods through the client itself in Node
(``tests/clients/sequence_call.mjs``), so a request or answer the client cannot handle fails
there. :class:`GeneratedTypes` reads the client's generated TypeScript declarations
(``dist/indexergw.gen.d.ts``) and checks an answer against them field for field: every field
they mark as always present is there, with the declared type (a TypeScript client reading a
missing one would get ``undefined``).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rosetta_node.devnet import file_lock, npm_install, tools_dir

PACKAGE, VERSION = "@0xsequence/indexer", "3.0.13"
CALLER = Path(__file__).resolve().parents[1] / "clients" / "sequence_call.mjs"


def ensure_sequence_client() -> Path:
    """The installed package's directory (installing the pinned version if needed)."""
    prefix = tools_dir() / "sequence-client"
    package = prefix / "node_modules" / "@0xsequence" / "indexer"

    def installed() -> bool:
        try:
            return bool(json.loads((package / "package.json").read_text())["version"] == VERSION)
        except (OSError, ValueError, KeyError):
            return False

    if not installed():
        with file_lock(tools_dir() / "sequence-client.install.lock"):
            if not installed():
                npm_install(prefix, f"{PACKAGE}@{VERSION}")
    if not installed():
        raise RuntimeError(f"npm did not install {PACKAGE}@{VERSION} into {prefix}")
    return package


def call(url: str, calls: list[tuple[str, Any]], key: str | None = None) -> list[dict[str, Any]]:
    """Each ``(clientMethod, request)`` through the official client; ``{"result": ...}`` or
    ``{"error": {name, code, status, message, cause}}`` per call, in order."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node (Node.js) is required to run the official Sequence client")
    payload = {
        "package": str(ensure_sequence_client() / "dist" / "index.js"),
        "url": url,
        "key": key,
        "calls": [{"method": m, "request": r} for m, r in calls],
    }
    proc = subprocess.run(
        [node, str(CALLER)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{CALLER.name} failed: {proc.stderr[-3000:]}")
    answers: list[dict[str, Any]] = json.loads(proc.stdout)
    return answers


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    optional: bool


def _split_top(text: str, sep: str) -> list[str]:
    """``text`` split at ``sep`` outside braces and angle brackets."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "{<":
            depth += 1
        elif ch in "}>":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


class GeneratedTypes:
    """The interfaces and enums of the client's ``indexergw.gen.d.ts``."""

    def __init__(self, declarations: str) -> None:
        text = re.sub(r"/\*.*?\*/|//[^\n]*", "", declarations, flags=re.S)
        self.enums: dict[str, set[str]] = {}
        for name, body in re.findall(r"export declare enum (\w+) \{(.*?)\}", text, re.S):
            self.enums[name] = set(re.findall(r'= "([^"]*)"', body))
        self.schema_hash = re.search(r'WebrpcSchemaHash = "(\w+)"', text).group(1)  # type: ignore[union-attr]
        self.schema_version = re.search(r'WebrpcSchemaVersion = "([^"]+)"', text).group(1)  # type: ignore[union-attr]
        # The client's methods: ``name(req...)`` members of IndexerGatewayClient.
        self.client_methods = re.findall(
            r"^\s*(\w+)\((?:req|headers)",
            self._body(text, text.index("IndexerGatewayClient {") + 22),
            re.M,
        )
        self.interfaces: dict[str, list[Field]] = {}
        for match in re.finditer(r"export interface (\w+) \{", text):
            body = self._body(text, match.end())
            fields = []
            for member in _split_top(body, ";"):
                if "(" in member.split(":", 1)[0]:
                    continue  # a method of the client interface
                name, type_ = member.split(":", 1)
                optional = name.strip().endswith("?")
                fields.append(Field(name.strip().rstrip("?"), " ".join(type_.split()), optional))
            self.interfaces[match.group(1)] = fields

    @staticmethod
    def _body(text: str, start: int) -> str:
        depth = 1
        for i in range(start, len(text)):
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
                if depth == 0:
                    return text[start:i]
        raise ValueError("unbalanced braces in the declarations")

    @classmethod
    def of_client(cls) -> GeneratedTypes:
        path = ensure_sequence_client() / "dist" / "indexergw.gen.d.ts"
        return cls(path.read_text())

    def problems(self, value: Any, type_: str, where: str = "$") -> list[str]:
        """Where ``value`` is not of TypeScript type ``type_`` (empty: it is)."""
        type_ = type_.strip()
        if type_ == "any":
            return []
        if type_.startswith("Array<") and type_.endswith(">"):
            if not isinstance(value, list):
                return [f"{where}: expected an array, got {value!r:.80}"]
            inner = type_[6:-1]
            return [
                p for i, v in enumerate(value) for p in self.problems(v, inner, f"{where}[{i}]")
            ]
        if type_.startswith("{") and type_.endswith("}"):  # { [key: string]: T; }
            if not isinstance(value, dict):
                return [f"{where}: expected an object, got {value!r:.80}"]
            inner = type_[1:-1].strip().rstrip(";").split(":", 2)[-1]
            return [p for k, v in value.items() for p in self.problems(v, inner, f"{where}.{k}")]
        simple = {"string": str, "boolean": bool, "number": (int, float)}
        if type_ in simple:
            ok = isinstance(value, simple[type_]) and not (
                type_ == "number" and isinstance(value, bool)
            )
            return [] if ok else [f"{where}: expected {type_}, got {value!r:.80}"]
        if type_ in self.enums:
            if value in self.enums[type_]:
                return []
            return [f"{where}: {value!r:.80} is not one of {type_} {sorted(self.enums[type_])}"]
        if type_ in self.interfaces:
            if not isinstance(value, dict):
                return [f"{where}: expected {type_}, got {value!r:.80}"]
            found: list[str] = []
            for field in self.interfaces[type_]:
                if field.name not in value:
                    if not field.optional:
                        found.append(f"{where}.{field.name}: missing ({type_} always has it)")
                    continue
                inner = f"{where}.{field.name}"
                found += self.problems(value[field.name], field.type, inner)
            return found
        raise ValueError(f"{where}: type {type_!r} is not understood")
