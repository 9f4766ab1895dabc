"""Our node, ``python -m rosetta_node serve ...``, as a subprocess: for tests, benchmarks and the
conformance run alike.

:class:`NodeProcess` starts it on a free loopback port (and again on another one when that port
was taken before the node bound it), logs its output to a file, waits until ``/network/list``
names a network (a given one, then also answered by ``/network/status``), can wait until its
Transfer-log index holds a block, and stops it by pid. The caller's own choices are parameters:
extra environment, working directory, interpreter, ``--host``, ``--log-level``, the log file,
a pyinstrument profile, the readiness timeout, a hook for every process started.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rosetta_node.devnet import free_port

ROOT = Path(__file__).resolve().parent.parent.parent
PORT_TAKEN = "address already in use"


class NodeStartError(RuntimeError):
    """Our node exited, or did not become ready in time."""


def settings_free_env() -> dict[str, str]:
    """This process's environment without ``ROSETTA_NODE_*`` settings, for a child whose
    settings must come from its command line alone."""
    return {k: v for k, v in os.environ.items() if not k.startswith("ROSETTA_NODE_")}


def post_json(url: str, body: Any, timeout: float = 10.0) -> tuple[int, Any]:
    """POST ``body`` as JSON; (HTTP status, decoded answer or None). Error statuses are answers
    too; a refused connection or a timeout raises OSError."""
    data = json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    return _json_answer(urllib.request.Request(url, data, headers, method="POST"), timeout)


def get_json(url: str, timeout: float = 10.0) -> tuple[int, Any]:
    """GET, like :func:`post_json`."""
    return _json_answer(urllib.request.Request(url), timeout)


def _json_answer(req: urllib.request.Request, timeout: float) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read())
        except ValueError:
            return exc.code, None


def node_ready(url: str, network: Mapping[str, str] | None = None) -> bool:
    """One look: ``/network/list`` names the network (any, or the given one), and with a
    given one ``/network/status`` answers for it."""
    status, body = post_json(url + "/network/list", {}, timeout=2.0)
    names = body["network_identifiers"] if status == 200 else []
    if network is None:
        return bool(names)
    if dict(network) not in names:
        return False
    status, _ = post_json(url + "/network/status", {"network_identifier": network}, timeout=5.0)
    return status == 200


def wait_for_node(
    url: str,
    process: subprocess.Popen[bytes],
    timeout: float = 60.0,
    *,
    network: Mapping[str, str] | None = None,
    label: str = "node",
    log_tail: Callable[[], str] = str,
) -> None:
    """Until our node at ``url`` is ready (:func:`node_ready`); :class:`NodeStartError` when
    ``process`` exits first or the time runs out (with ``log_tail()`` in the message)."""
    deadline = time.monotonic() + timeout
    while True:
        code = process.poll()
        if code is not None:
            raise NodeStartError(f"{label} exited with {code}; log tail:\n{log_tail()}")
        try:
            if node_ready(url, network):
                return
        except (OSError, ValueError, KeyError, TypeError):
            pass
        if time.monotonic() > deadline:
            raise NodeStartError(
                f"{label} at {url} not ready in {timeout:.0f} s; log tail:\n{log_tail()}"
            )
        time.sleep(0.1)


class NodeProcess:
    """``python -m rosetta_node serve --port P [--host H] [--log-level L] *args`` on a free port.

    Started by the constructor unless ``start=False`` (then :meth:`start`); :meth:`wait` until it
    is ready (:meth:`start` does both). ``env`` is added to this process's environment.
    ``log_path``: the log file, appended to and kept; by default a temp file removed on
    :meth:`stop`. ``profile``: run under pyinstrument writing its report there (JSON for a
    ``.json`` name, else text), stopped with SIGINT so that it writes it. ``network``: ready
    only once ``/network/list`` names it and ``/network/status`` answers for it; by default once
    ``/network/list`` names any network. ``on_start`` is called with every process started
    (a retry on another port starts another).
    """

    def __init__(
        self,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        *,
        start: bool = True,
        python: str = sys.executable,
        cwd: Path | str = ROOT,
        host: str | None = None,
        log_level: str | None = None,
        log_path: Path | None = None,
        profile: Path | None = None,
        network: Mapping[str, str] | None = None,
        ready_timeout: float = 60.0,
        port_tries: int = 3,
        on_start: Callable[[subprocess.Popen[bytes]], None] | None = None,
        label: str = "node",
    ) -> None:
        self.args = list(args)
        self.env = dict(env or {})
        self.python = python
        self.cwd = Path(cwd)
        self.host = host
        self.log_level = log_level
        self.profile = profile
        self.network = dict(network) if network is not None else None
        self.ready_timeout = ready_timeout
        self.port_tries = port_tries
        self.on_start = on_start
        self.label = label
        self._temp_log = log_path is None
        if log_path is None:
            fd, name = tempfile.mkstemp(prefix="rosetta-node-", suffix=".log")
            os.close(fd)
            log_path = Path(name)
        self.log_path = log_path
        self._log_start = 0  # where the current process's output begins in the log
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.url = ""
        if start:
            self.launch()

    # -- start -------------------------------------------------------------------------------

    def command(self) -> list[str]:
        serve = ["rosetta_node", "serve", "--port", str(self.port)]
        if self.host is not None:
            serve += ["--host", self.host]
        if self.log_level is not None:
            serve += ["--log-level", self.log_level]
        serve += self.args
        if self.profile is None:
            return [self.python, "-m", *serve]
        renderer = "json" if self.profile.suffix == ".json" else "text"
        profiler = ["-m", "pyinstrument", "-r", renderer, "-o", str(self.profile)]
        return [self.python, *profiler, "-m", *serve]

    def launch(self) -> None:
        """Start the process on a fresh free port (not waiting for it)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        with open(self.log_path, "ab") as log:
            self._log_start = log.tell()
            self.process = subprocess.Popen(
                self.command(),
                cwd=self.cwd,
                env={**os.environ, **self.env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if self.on_start is not None:
            self.on_start(self.process)

    def start(self, timeout: float | None = None) -> NodeProcess:
        """Launch (unless running) and wait until ready."""
        if self.process is None:
            self.launch()
        self.wait(timeout)
        return self

    def wait(self, timeout: float | None = None) -> None:
        """Until the node is ready; on another port when its port was taken. Raises
        :class:`NodeStartError` (with the log's tail) when it exits or is not ready in time."""
        for attempt in range(self.port_tries):
            try:
                self._wait_ready(self.ready_timeout if timeout is None else timeout)
                return
            except NodeStartError:
                taken = PORT_TAKEN in self._current_log().lower()
                self._terminate()
                if not taken or attempt + 1 == self.port_tries:
                    raise
            self.launch()

    def _wait_ready(self, timeout: float) -> None:
        assert self.process is not None, "not started"
        wait_for_node(
            self.url,
            self.process,
            timeout,
            network=self.network,
            label=self.label,
            log_tail=self.log_tail,
        )

    def wait_indexed(
        self,
        block: int | None = None,
        *,
        block_hash: str | None = None,
        network: str | None = None,
        timeout: float = 60.0,
    ) -> None:
        """Until ``/readyz`` says the Transfer-log index holds ``block`` (or later), or has
        its cursor at ``block_hash``: of every network, or of the one named ``network``."""
        deadline = time.monotonic() + timeout
        body: Any = None
        while time.monotonic() < deadline:
            try:
                _, body = get_json(self.url + "/readyz", timeout=5.0)
                entries = [
                    n.get("index", {})
                    for n in body["networks"]
                    if network is None or n["network"] == network
                ]
            except (OSError, ValueError, KeyError, TypeError):
                entries = []
            if entries and all(_holds(e, block, block_hash) for e in entries):
                return
            time.sleep(0.1)
        raise NodeStartError(
            f"the index of {network or 'every network'} did not reach "
            f"{block if block_hash is None else block_hash} in {timeout:.0f} s: {body}"
        )

    # -- while it runs -----------------------------------------------------------------------

    @property
    def pid(self) -> int:
        assert self.process is not None, "not started"
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def output(self) -> str:
        """Everything in the log so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, limit: int = 3000) -> str:
        return self.output()[-limit:]

    def _current_log(self) -> str:
        try:
            with open(self.log_path, "rb") as log:
                log.seek(self._log_start)
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    # -- stop --------------------------------------------------------------------------------

    def _terminate(self, timeout: float = 15.0) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        # SIGINT under a profiler: uvicorn shuts down gracefully and re-raises it as
        # KeyboardInterrupt, which pyinstrument survives to write its report.
        process.send_signal(signal.SIGINT if self.profile is not None else signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the process by pid (SIGTERM, SIGKILL after ``timeout``); remove a temp log.
        ``process`` stays set (its return code readable); stopping twice is harmless."""
        self._terminate(timeout)
        if self._temp_log:
            self.log_path.unlink(missing_ok=True)


def _holds(index: Mapping[str, Any], block: int | None, block_hash: str | None) -> bool:
    if block_hash is not None and index.get("hash") != block_hash:
        return False
    reached = index.get("block")
    return block is None or (reached is not None and reached >= block)
