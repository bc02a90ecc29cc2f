"""Issue 8, data safety item 7, the same race elsewhere: every "create unless it exists" that
read first and inserted after could see two writers both insert, and the second failed with
a 500. Concurrent creates of one name now give one success and clear conflicts (or, where
the second writer means "the same thing", the one row); the first writes ever on a fresh
store all get their own resourceVersion. SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from kfp import compiler

from flowyard.client import local_http
from flowyard.services import uploads
from flowyard.services.context import Services
from flowyard.services.launcher import BackgroundLoop, Launcher
from tests.api.components import adder

T = TypeVar("T")
N = 12
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_url"))
    return "sqlite"


@pytest.fixture(autouse=True)
def _stop_planes() -> Any:
    yield
    from flowyard.client import close_local

    close_local()


def at_once(fn: Callable[[int], T], n: int = N) -> list[T]:
    start = threading.Barrier(n)

    def call(i: int) -> T:
        start.wait()
        return fn(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(call, range(n)))


def _configmap(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
            "data": {"k": name}}


def test_first_objects_on_a_fresh_store_get_distinct_versions(database: str) -> None:
    api = local_http()
    answers = at_once(lambda i: api.post(CONFIGMAPS, json=_configmap(f"cm-{i}")))
    assert [a.status_code for a in answers] == [201] * N, [a.text for a in answers]
    versions = {int(a.json()["metadata"]["resourceVersion"]) for a in answers}
    assert versions == set(range(1, N + 1))


def test_one_name_created_at_once_is_one_object_and_conflicts(database: str) -> None:
    api = local_http()
    api.post(CONFIGMAPS, json=_configmap("warm-up"))  # the counter exists: only the name races
    answers = at_once(lambda i: api.post(CONFIGMAPS, json=_configmap("same")))
    codes = sorted(a.status_code for a in answers)
    assert codes == [201] + [409] * (N - 1), [a.text for a in answers]
    conflict = next(a.json() for a in answers if a.status_code == 409)
    assert conflict["reason"] == "AlreadyExists" and "'same'" in conflict["message"]
    listed = api.get(CONFIGMAPS).json()["items"]
    assert [o["metadata"]["name"] for o in listed].count("same") == 1


def test_one_name_recreated_over_its_tombstone_at_once(database: str) -> None:
    api = local_http()
    assert api.post(CONFIGMAPS, json=_configmap("again")).status_code == 201
    assert api.delete(f"{CONFIGMAPS}/again").status_code == 200
    answers = at_once(lambda i: api.post(CONFIGMAPS, json=_configmap("again")))
    assert sorted(a.status_code for a in answers) == [201] + [409] * (N - 1), [
        a.text for a in answers]


def test_same_new_secret_written_at_once(database: str) -> None:
    from flowyard.store import open_store
    from flowyard.store.secrets import SecretStore

    secrets = SecretStore(open_store())
    at_once(lambda i: secrets.put("token", {"v": str(i)}))
    value = secrets.get("token")
    assert value is not None and value["v"] in {str(i) for i in range(N)}
    assert [n for n, _ in secrets.names()] == ["token"]


def test_same_new_volume_claimed_at_once(database: str) -> None:
    from flowyard.store import open_store
    from flowyard.store.volumes import VolumeStore

    volumes = VolumeStore(open_store())
    rows = at_once(lambda i: volumes.create("shared-data"))
    assert {r.path for r in rows} == {rows[0].path} and Path(rows[0].path).is_dir()
    assert [v.name for v in volumes.list()] == ["shared-data"]


def test_dashboard_uploads_of_one_new_pipeline_at_once(database: str, tmp_path: Path) -> None:
    from flowyard.store import open_store

    path = tmp_path / "adder.yaml"
    compiler.Compiler().compile(adder, str(path))
    data = path.read_bytes()
    store = open_store()
    svc = Services(store, Launcher(BackgroundLoop().loop, store))
    made = at_once(lambda i: uploads.upload(svc, data, f"adder-{i}.yaml"), 6)
    assert len({m["pipeline_id"] for m in made}) == 1
    assert len({m["pipeline_version_id"] for m in made}) == 6
