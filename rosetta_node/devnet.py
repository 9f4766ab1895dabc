"""A local anvil devnet for tests, conformance runs and ``run against a local devnet``.

anvil comes from npm (``@foundry-rs/anvil``), pinned to :data:`ANVIL_VERSION` and installed on
first use under :func:`tools_dir`, so a fresh machine needs only node/npm. We always run the
native binary from the platform package: the ``.bin/anvil`` entry point is a node wrapper whose
pid is not anvil's, so terminating it could leave anvil running.

Stdlib only: the server imports this module, and it must not pull in web3.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

ANVIL_VERSION = "1.7.1"
DEFAULT_CHAIN_ID = 31337
# Keep every state in memory: anvil otherwise keeps ~3,600 recent states, spills older ones to
# ~/.foundry/anvil/tmp (never cleaned up) and then answers BlockOutOfRangeError for them.
DEFAULT_PRUNE_HISTORY = 100_000
READY_TIMEOUT = 30.0
NPM_INSTALL_TIMEOUT = 900.0

# npm's platform packages, keyed by (sys.platform, normalised machine).
_PLATFORM_PACKAGES: dict[tuple[str, str], str] = {
    ("linux", "amd64"): "anvil-linux-amd64",
    ("linux", "arm64"): "anvil-linux-arm64",
    ("darwin", "amd64"): "anvil-darwin-amd64",
    ("darwin", "arm64"): "anvil-darwin-arm64",
    ("win32", "amd64"): "anvil-win32-amd64",
}
_MACHINE_ALIASES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def tools_dir() -> Path:
    """Where pinned external tools live: ``<repo root>/.tools`` or ``$ROSETTA_NODE_TOOLS_DIR``."""
    override = os.environ.get("ROSETTA_NODE_TOOLS_DIR")
    if override:
        return Path(override).expanduser().resolve()
    return Path(__file__).resolve().parent.parent / ".tools"


def _platform_package() -> str:
    machine = _MACHINE_ALIASES.get(platform.machine().lower(), platform.machine().lower())
    try:
        return _PLATFORM_PACKAGES[(sys.platform, machine)]
    except KeyError:
        raise RuntimeError(
            f"anvil {ANVIL_VERSION} has no npm build for {sys.platform}/{machine}"
        ) from None


def anvil_binary_path() -> Path:
    """Where the native anvil binary is (or will be) after :func:`ensure_anvil`."""
    name = "anvil.exe" if sys.platform == "win32" else "anvil"
    pkg = _platform_package()
    return tools_dir() / "anvil" / "node_modules" / "@foundry-rs" / pkg / "bin" / name


def _installed_version(binary: Path) -> str | None:
    # The platform package's package.json names the version without running the binary.
    try:
        meta = json.loads((binary.parent.parent / "package.json").read_text())
    except (OSError, ValueError):
        return None
    version = meta.get("version")
    return version if isinstance(version, str) else None


def _is_installed(binary: Path) -> bool:
    return (
        binary.is_file()
        and os.access(binary, os.X_OK)
        and _installed_version(binary) == ANVIL_VERSION
    )


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock, so concurrent test processes do not run npm together."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_anvil() -> Path:
    """Return the native anvil binary, installing the pinned npm package first if needed."""
    binary = anvil_binary_path()
    if _is_installed(binary):
        return binary
    prefix = tools_dir() / "anvil"
    with file_lock(tools_dir() / "anvil.install.lock"):
        # Another process may have finished the install while we waited for the lock.
        if _is_installed(binary):
            return binary
        proc = npm_install(prefix, f"@foundry-rs/anvil@{ANVIL_VERSION}")
        if not _is_installed(binary):
            # npm skips optional (platform) dependencies with --omit=optional or on an
            # unrecognised platform; the binary is then simply absent.
            raise RuntimeError(
                f"npm installed anvil, but {binary} (version {ANVIL_VERSION}) is missing; "
                f"found version {_installed_version(binary)!r}. Is npm omitting optional "
                f"dependencies?\n{tail(proc.stderr)}"
            )
    return binary


def npm_install(prefix: Path, spec: str) -> subprocess.CompletedProcess[str]:
    """``npm install --prefix PREFIX SPEC`` (a pinned ``name@version``); raises with npm's
    output when npm is missing, fails or hangs. Callers hold a :func:`file_lock`."""
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(
            f"{spec} is not installed in {prefix} and npm is not on PATH; install Node.js/npm, "
            f"or run: npm install --prefix {prefix} --no-audit --no-fund {spec}"
        )
    cmd = [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", spec]
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=NPM_INSTALL_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(
            f"`{' '.join(cmd)}` did not finish within {NPM_INSTALL_TIMEOUT:.0f} s"
        ) from exc
    if proc.returncode != 0:
        raise RuntimeError(
            f"`{' '.join(cmd)}` failed with exit code {proc.returncode}:\n"
            f"{tail(proc.stdout)}\n{tail(proc.stderr)}"
        )
    return proc


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (callers retry on a lost race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tail(text: str, limit: int = 4000) -> str:
    """The end of a process log, for error messages."""
    text = text.strip()
    return text if len(text) <= limit else "..." + text[-limit:]


class RpcError(RuntimeError):
    """A JSON-RPC error object returned by the node."""

    def __init__(self, method: str, error: dict[str, Any]) -> None:
        self.method = method
        self.code = error.get("code")
        self.data = error.get("data")
        super().__init__(f"{method}: JSON-RPC error {self.code}: {error.get('message')}")


def rpc_call(url: str, method: str, params: Sequence[Any] = (), *, timeout: float = 10.0) -> Any:
    """One JSON-RPC call over urllib (enough for setup and health checks; not a hot path)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
    req = urllib.request.Request(
        url, data=body.encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        reply = json.loads(resp.read())
    if "error" in reply:
        raise RpcError(method, reply["error"])
    return reply.get("result")


class LocalNode:
    """A node process of ours on 127.0.0.1: its private temp dir and log file, the wait until it
    answers, and its stop (by pid). Subclasses start it (``_launch``) and may refine ``_ready``.
    Use as ``with Node() as node: ... node.url ...`` or call ``start`` / :meth:`stop`.
    """

    name = "node"
    log_name = "node.log"  # in the work dir
    stop_timeout = 10.0

    def __init__(self, chain_id: int, ready_timeout: float) -> None:
        self.chain_id = chain_id
        self.ready_timeout = ready_timeout
        self.port: int = 0
        self.url: str = ""
        self.process: subprocess.Popen[bytes] | None = None
        self.workdir: Path | None = None
        self.args: list[str] = []

    def start(self) -> LocalNode:  # pragma: no cover - each subclass starts its own way
        raise NotImplementedError

    def _retrying(self, spawn: Callable[[], None], attempts: int = 5) -> None:
        """``spawn`` again while it fails for a port taken between free_port() and the bind."""
        last_error: Exception | None = None
        for _ in range(attempts):
            try:
                spawn()
                return
            except PortInUse as exc:
                last_error = exc
        raise RuntimeError(f"could not start {self.name}: {last_error}")

    def _launch(self, args: list[str], workdir: Path, port: int) -> None:
        """Run ``args`` logging to the work dir, then wait until it answers (or stop it)."""
        # Log to a file, not a pipe: an unread pipe would eventually block a long-running node.
        log = open(workdir / self.log_name, "wb")  # noqa: SIM115 - closed right below
        try:
            process = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=workdir
            )
        except OSError:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        finally:
            log.close()
        self.process, self.workdir, self.port, self.args = process, workdir, port, args
        self.url = f"http://127.0.0.1:{port}"
        atexit.register(self.stop)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _ready(self) -> bool:
        """One look: True once the node answers with the expected chain id."""
        answer = int(rpc_call(self.url, "eth_chainId", timeout=2.0), 16)
        if answer != self.chain_id:
            raise RuntimeError(
                f"{self.url} answered chain id {answer}, expected {self.chain_id}: "
                f"is another node on port {self.port}?"
            )
        return True

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.ready_timeout
        delay = 0.02
        while True:
            code = self.process.poll()
            if code is not None:
                log = self.log()
                if "address already in use" in log.lower():
                    raise PortInUse(f"a port of {self.name} was in use: {tail(log)}")
                raise RuntimeError(
                    f"{self.name} exited with code {code} before becoming ready\n"
                    f"command: {' '.join(self.args)}\nlog:\n{tail(log) or '(empty)'}"
                )
            try:
                if self._ready():
                    return
            except (OSError, urllib.error.URLError, ValueError, RpcError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{self.name} did not become ready at {self.url} within "
                    f"{self.ready_timeout:.0f} s\nlog:\n{tail(self.log()) or '(empty)'}"
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 0.25)

    def stop(self, timeout: float | None = None) -> None:
        """Terminate the node (kill it if it does not exit in time); remove its temp dir."""
        process, self.process = self.process, None
        if process is not None:
            atexit.unregister(self.stop)
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(self.stop_timeout if timeout is None else timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        workdir, self.workdir = self.workdir, None
        if workdir is not None:
            self._remove(workdir)

    def _remove(self, workdir: Path) -> None:
        shutil.rmtree(workdir, ignore_errors=True)

    def __enter__(self: _Node) -> _Node:
        if self.process is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        """What the node has logged so far ("" once stopped)."""
        if self.workdir is None:
            return ""
        try:
            return (self.workdir / self.log_name).read_text(errors="replace")
        except OSError:
            return ""

    def rpc(self, method: str, *params: Any, timeout: float = 10.0) -> Any:
        """Convenience JSON-RPC call against this node."""
        if not self.url:
            raise RuntimeError(f"{self.name} is not started")
        return rpc_call(self.url, method, params, timeout=timeout)


_Node = TypeVar("_Node", bound=LocalNode)


class Anvil(LocalNode):
    """A private anvil process on 127.0.0.1; the constructor's arguments are the defaults for
    :meth:`start`."""

    name = "anvil"
    log_name = "anvil.log"

    def __init__(
        self,
        *,
        port: int | None = None,
        chain_id: int = DEFAULT_CHAIN_ID,
        block_time: float | None = None,
        extra_args: Sequence[str] = (),
        prune_history: int = DEFAULT_PRUNE_HISTORY,
        ready_timeout: float = READY_TIMEOUT,
    ) -> None:
        super().__init__(chain_id, ready_timeout)
        self._default_port = port
        self._default_block_time = block_time
        self._default_extra_args = list(extra_args)
        self.prune_history = prune_history

    # -- lifecycle ---------------------------------------------------------------------------

    def start(
        self,
        port: int | None = None,
        *,
        block_time: float | None = None,
        extra_args: Sequence[str] = (),
        chain_id: int | None = None,
    ) -> Anvil:
        """Start anvil and return once ``eth_chainId`` answers (or raise with its stderr)."""
        if self.process is not None:
            raise RuntimeError(f"anvil is already running at {self.url}")
        binary = ensure_anvil()
        if chain_id is not None:
            self.chain_id = chain_id
        port = port if port is not None else self._default_port
        block_time = block_time if block_time is not None else self._default_block_time
        extra = list(extra_args) if extra_args else list(self._default_extra_args)
        # A port we picked ourselves can be taken between free_port() and anvil's bind: retry.
        self._retrying(
            lambda: self._spawn(binary, port or free_port(), block_time, extra),
            1 if port is not None else 5,
        )
        return self

    def _spawn(self, binary: Path, port: int, block_time: float | None, extra: list[str]) -> None:
        # Everything anvil could write goes to a private temp dir removed by stop(), so nothing
        # leaks into ~/.foundry (with --prune-history nothing is persisted anyway).
        workdir = Path(tempfile.mkdtemp(prefix="rosetta-anvil-"))
        args = [
            str(binary),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--chain-id",
            str(self.chain_id),
            "--hardfork",
            "cancun",
            "--prune-history",
            str(self.prune_history),
            "--cache-path",
            str(workdir / "cache"),
            "--silent",
        ]
        if block_time is not None:
            args += ["--block-time", _fmt_seconds(block_time)]
        args += extra
        self._launch(args, workdir, port)

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"Anvil({self.url or 'not started'}, chain_id={self.chain_id}, {state})"


class PortInUse(RuntimeError):
    pass


def _fmt_seconds(seconds: float) -> str:
    # anvil parses --block-time as a float of seconds; keep integers integral ("1", not "1.0").
    return str(int(seconds)) if float(seconds).is_integer() else repr(float(seconds))
