"""`flowyard up` as a real subprocess on a free port, for tests that talk to it over HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, home: Path, env: dict[str, str] | None = None,
                 args: list[str] | None = None) -> None:
        self.home = home
        self.args = args or []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = home.parent / "server.log"

    def start(self) -> Server:
        self.home.mkdir(parents=True, exist_ok=True)
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "flowyard.cli.main", "up", "--port", str(self.port),
             "--log-level", "warning", *self.args], env=self.env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"flowyard up exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/apis/v2beta1/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("flowyard up did not answer in 60 s")

    def kill(self) -> None:
        """SIGKILL the server alone: its task processes are left behind, as in a crash."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@pytest.fixture(autouse=True)
def _close_in_process_planes() -> Iterator[None]:
    """A test's in-process control plane stops with the test, not at interpreter exit."""
    yield
    from flowyard.client import close_local

    close_local()


@pytest.fixture
def server(fy_home: Path) -> Iterator[Server]:
    srv = Server(fy_home).start()
    yield srv
    srv.stop()


@pytest.fixture
def server_factory(fy_home: Path) -> Iterator[type[Server]]:
    made: list[Server] = []

    class Tracked(Server):
        def __init__(self, env: dict[str, str] | None = None) -> None:  # type: ignore[override]
            super().__init__(fy_home, env)
            made.append(self)

    yield Tracked  # type: ignore[misc]
    for srv in made:
        srv.stop()
