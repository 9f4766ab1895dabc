"""Go programs the tests run, built from the pinning module ``conformance/geth``.

geth (go-ethereum at the version pinned in that module's go.mod) and our pre-merge chain
generator are built once into ``.tools/bin`` and kept by version in a cache outside the clone
(``$ROSETTA_NODE_TOOL_CACHE``, default ``~/.cache/rosetta-node/tools``), so a fresh clone
reuses them instead of building again (geth takes about 3 minutes on 2 cores).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from rosetta_node.devnet import file_lock, tools_dir

ROOT = Path(__file__).resolve().parents[2]
MODULE_DIR = ROOT / "conformance" / "geth"
GETH_MODULE = "github.com/ethereum/go-ethereum"
BUILD_TIMEOUT = 1800.0


def pinned_geth_version() -> str:
    for line in (MODULE_DIR / "go.mod").read_text().splitlines():
        words = line.split()
        if words[:1] == [GETH_MODULE]:
            return words[1]
        if len(words) >= 3 and words[0] == "require" and words[1] == GETH_MODULE:
            return words[2]
    raise RuntimeError(f"{MODULE_DIR / 'go.mod'} does not pin {GETH_MODULE}")


def cache_dir() -> Path:
    override = os.environ.get("ROSETTA_NODE_TOOL_CACHE")
    if override:
        return Path(override).expanduser()
    return Path.home() / ".cache" / "rosetta-node" / "tools"


def _build(package: str, target: Path, module_dir: Path = MODULE_DIR) -> None:
    go = shutil.which("go")
    if go is None:
        raise RuntimeError(f"go is required to build {package} (it is not on PATH)")
    target.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GOFLAGS": "-mod=readonly -buildvcs=false", "CGO_ENABLED": "1"}
    proc = subprocess.run(
        [go, "build", "-o", str(target), package],
        cwd=module_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    if proc.returncode != 0:
        output = proc.stdout[-4000:] + proc.stderr[-4000:]
        raise RuntimeError(f"go build {package} in {module_dir} failed:\n{output}")


def _ensure(name: str, package: str, key: str, module_dir: Path = MODULE_DIR) -> Path:
    """``.tools/bin/<name>``, built from ``package`` (in the pinning module ``module_dir``)
    unless the cache holds ``key``'s build."""
    local = tools_dir() / "bin" / name
    stamp = local.with_name(f".{name}.key")
    if local.is_file() and stamp.is_file() and stamp.read_text() == key:
        return local
    cached = cache_dir() / f"{name}-{key}" / name
    with file_lock(tools_dir() / f"{name}.build.lock"):
        if local.is_file() and stamp.is_file() and stamp.read_text() == key:
            return local
        if not cached.is_file():
            scratch = cached.with_name(f".{name}.{os.getpid()}")
            _build(package, scratch, module_dir)
            scratch.replace(cached)
        local.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(cached, local)
        stamp.write_text(key)
    return local


def ensure_geth() -> Path:
    """The pinned geth binary."""
    return _ensure("geth", "github.com/ethereum/go-ethereum/cmd/geth", pinned_geth_version())


def ensure_go_program(name: str) -> Path:
    """Our own Go program ``conformance/geth/<name>``, keyed by its source and the pins."""
    digest = hashlib.sha256()
    for path in sorted((MODULE_DIR / name).rglob("*.go")) + [
        MODULE_DIR / "go.mod",
        MODULE_DIR / "go.sum",
    ]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return _ensure(name, f"./{name}", digest.hexdigest()[:16])


# -- op-geth (OP Stack) --------------------------------------------------------------------------

OPGETH_MODULE_DIR = ROOT / "conformance" / "opgeth"
OPGETH_MODULE = "github.com/ethereum-optimism/op-geth"


def pinned_opgeth_version() -> str:
    """The op-geth version ``conformance/opgeth/go.mod`` replaces go-ethereum with."""
    for line in (OPGETH_MODULE_DIR / "go.mod").read_text().splitlines():
        words = line.split()
        if "=>" in words and words[words.index("=>") + 1 :][:1] == [OPGETH_MODULE]:
            return words[words.index("=>") + 2]
    raise RuntimeError(f"{OPGETH_MODULE_DIR / 'go.mod'} does not replace go-ethereum with op-geth")


def ensure_opgeth() -> Path:
    """The pinned op-geth binary (``.tools/bin/op-geth``), from ``conformance/opgeth``."""
    package = "github.com/ethereum/go-ethereum/cmd/geth"  # replaced by op-geth's
    return _ensure("op-geth", package, pinned_opgeth_version(), OPGETH_MODULE_DIR)
