"""One `flowyard up` per test module, on a free port with its own FLOWYARD_HOME, and a
kubeconfig from `flowyard kubeconfig` pointing the real kubectl (and the real kubernetes
client) at it. Tests use namespaces of their own, so they do not see each other's objects."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Cluster:
    url: str
    home: Path
    kubeconfig: Path
    pid: int = 0

    def kubectl(self, *args: str, check: bool = True, stdin: str | None = None,
                timeout: float = 60) -> subprocess.CompletedProcess[str]:
        out = subprocess.run(["kubectl", "--kubeconfig", str(self.kubeconfig), *args],
                             input=stdin, capture_output=True, text=True, timeout=timeout)
        if check and out.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{out.stdout}{out.stderr}")
        return out

    def json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def namespace(self) -> str:
        name = f"t-{uuid.uuid4().hex[:8]}"
        self.kubectl("create", "-f", "-", stdin=json.dumps(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
        return name

    def api(self) -> Any:
        from kubernetes import client, config

        return config.new_client_from_config(str(self.kubeconfig)), client


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    yield from _serve(tmp_path_factory, None)


@pytest.fixture(scope="module")
def pg_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The same, storing in a fresh PostgreSQL database (where scripts/test.sh started one)."""
    base = os.environ.get("FLOWYARD_TEST_PG_URL")
    if not base:
        pytest.skip("no PostgreSQL server (scripts/test.sh starts one)")
    import sqlalchemy as sa

    name = f"fy_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base.replace("postgresql://", "postgresql+psycopg://"),
                             isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield from _serve(tmp_path_factory, base.rsplit("/", 1)[0] + f"/{name}")
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _serve(tmp_path_factory: pytest.TempPathFactory, database: str | None,
           **extra_env: str) -> Iterator[Cluster]:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed")
    home = tmp_path_factory.mktemp("kubehome")
    port = _free_port()
    env = {**os.environ, "FLOWYARD_HOME": str(home), "PYTHONPATH": str(ROOT),
           "FLOWYARD_MAX_WATCHES_PER_CLIENT": "20", "FLOWYARD_WATCH_BOOKMARK_SECONDS": "1"}
    env.pop("FLOWYARD_DATABASE_URL", None)
    env.update(extra_env)
    if database:
        env["FLOWYARD_DATABASE_URL"] = database
    proc = subprocess.Popen([sys.executable, "-m", "flowyard.cli.main", "up", "--port",
                             str(port), "--log-level", "warning"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(url + "/version", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"flowyard up did not start: {proc.stderr.read().decode()}")
        time.sleep(0.2)
    kubeconfig = home / "kubeconfig"
    path = subprocess.run([sys.executable, "-m", "flowyard.cli.main", "kubeconfig", "--path"],
                          env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert Path(path) == kubeconfig
    try:
        yield Cluster(url, home, kubeconfig, proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
