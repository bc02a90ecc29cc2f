"""Issue 8, item 6: no code path opens the database files outside SQLite.

The sequence that lost committed data: import `flowyard.db` as an artifact and download it
through the server (its open/close of the file dropped the server's SQLite locks), then
`flowyard runs list` (which, finding no lock, checkpointed and deleted the WAL the server still
wrote to), then create an experiment and a run, then `kill -9` the server and start it again:
the run and the experiment were gone. Here the same sequence, through every way of naming the
database (importer, a hard link in an output, an output URI naming the -wal file), against a
real `flowyard up`; everything made before the kill must be there after it. The data checks
come first, so on a server without the guard this test fails where the data was lost."""

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from kfp import dsl
from kfp.dsl import Artifact, Dataset, Output

from tests.api.components import one_step
from tests.api.conftest import Server
from tests.security.helpers import API, artifact_id, spec_of, submit, tasks, wait

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
DL = "/_flowyard/artifacts"


@dsl.component
def hard_link(target: str, out: Output[Artifact]) -> None:
    import os

    os.link(target, out.path)


@dsl.component
def point_at(target: str, out: Output[Artifact]) -> None:
    out.uri = target


@dsl.pipeline(name="grab-the-database")
def grab(db_uri: str, db: str, wal: str) -> None:
    dsl.importer(artifact_uri=db_uri, artifact_class=Dataset, reimport=True).set_display_name(
        "import-db")
    hard_link(target=db).set_display_name("hardlink-db")
    point_at(target=wal).set_display_name("uri-wal")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        request.getfixturevalue("pg_url")
    return str(request.param)


@pytest.fixture
def servers(fy_home: Path) -> Iterator[list[Server]]:
    made: list[Server] = []
    yield made
    for srv in made:
        srv.stop()


def _experiment(url: str, name: str) -> str:
    resp = httpx.post(f"{url}{API}/experiments", json={"display_name": name})
    assert resp.status_code == 200, resp.text
    return str(resp.json()["experiment_id"])


def test_download_of_the_database_then_kill_loses_nothing(
        backend: str, servers: list[Server], fy_home: Path, tmp_path: Path) -> None:
    srv = Server(fy_home).start()
    servers.append(srv)
    before = _experiment(srv.url, "made-first")
    # The files to grab: SQLite's own, or (PostgreSQL keeps none here) the secret key.
    if backend == "sqlite":
        db, wal = fy_home / "flowyard.db", fy_home / "flowyard.db-wal"
    else:
        httpx.post(f"{srv.url}/api/v1/namespaces/default/secrets", json={
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "stringData": {"k": "v"}}).raise_for_status()
        db = wal = fy_home / "secret.key"
    assert db.exists() and wal.exists()
    grabbed = wait(srv.url, submit(srv.url, spec_of(grab, tmp_path),
                                   {"db_uri": f"file://{db}", "db": str(db), "wal": str(wal)}, name="grab"))
    statuses = {}
    for task in ("hardlink-db", "uri-wal"):
        art = artifact_id(grabbed, task, "out")
        for route in ("download", "raw"):
            statuses[(task, route)] = httpx.get(f"{srv.url}{DL}/{art}/{route}").status_code
        httpx.get(f"{srv.url}/artifacts/{art}")  # the page reads a preview
    env = {**srv.env, "FLOWYARD_HOME": str(fy_home)}
    listed = subprocess.run([sys.executable, "-m", "flowyard.cli.main", "runs", "list", "--json"],
                            env=env, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert grabbed["run_id"] in listed.stdout
    after = _experiment(srv.url, "made-after-the-download")
    run_id = submit(srv.url, spec_of(one_step, tmp_path), {"x": 41},
                    name="made-after-the-download", experiment_id=after)
    assert wait(srv.url, run_id)["state"] == "SUCCEEDED"
    srv.kill()

    again = Server(fy_home).start()
    servers.append(again)
    for exp in (before, after):
        resp = httpx.get(f"{again.url}{API}/experiments/{exp}")
        assert resp.status_code == 200, f"experiment {exp} lost: {resp.text}"
    resp = httpx.get(f"{again.url}{API}/runs/{run_id}")
    assert resp.status_code == 200, f"run lost: {resp.text}"
    assert resp.json()["state"] == "SUCCEEDED"
    assert httpx.get(f"{again.url}{API}/runs/{grabbed['run_id']}").status_code == 200

    # And it held because nothing read those files.
    assert set(statuses.values()) == {403}, statuses
    imp = tasks(grabbed)["import-db"]
    assert imp["state"] == "FAILED" and "database or key files" in imp["error"]["message"], imp
