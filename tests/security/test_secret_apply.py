"""Issue 8, data safety item 9: `flowyard apply` of a Secret whose data changed printed
"unchanged" and kept its resourceVersion, because the values live outside the object. The
object now carries a keyed digest of its values: changed values are "configured" with a new
resourceVersion (and a MODIFIED watch event), the same values "unchanged". On SQLite and
PostgreSQL."""

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flowyard.client import local_http
from flowyard.store import open_store
from flowyard.store.schema import Resource, ResourceChange
from flowyard.store.secrets import SecretStore


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        request.getfixturevalue("pg_url")
    return str(request.param)


def fy(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "flowyard.cli.main", *args], input=stdin,
                          capture_output=True, text=True, timeout=120, env=dict(os.environ))


def secret_yaml(path: Path, **values: str) -> Path:
    data = {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "Secret",
                                "metadata": {"name": "db"}, "type": "Opaque", "data": data}))
    return path


def rv() -> str:
    got = local_http().get("/api/v1/namespaces/default/secrets/db")
    assert got.status_code == 200, got.text
    return str(got.json()["metadata"]["resourceVersion"])


def test_apply_of_a_changed_secret_is_configured(backend: str, tmp_path: Path) -> None:
    f = tmp_path / "secret.yaml"
    first = fy("apply", "-f", str(secret_yaml(f, password="one")))
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "secret/db created"
    v1 = rv()

    same = fy("apply", "-f", str(secret_yaml(f, password="one")))
    assert same.stdout.strip() == "secret/db unchanged", same.stdout + same.stderr
    assert rv() == v1

    changed = fy("apply", "-f", str(secret_yaml(f, password="two")))
    assert changed.stdout.strip() == "secret/db configured", changed.stdout + changed.stderr
    v2 = rv()
    assert int(v2) > int(v1)
    assert SecretStore(open_store()).get("db") == {"password": "two"}

    again = fy("apply", "-f", str(secret_yaml(f, password="two")))
    assert again.stdout.strip() == "secret/db unchanged"
    assert rv() == v2

    # A new key is a change too; and no value ever reaches the resources table.
    added = fy("apply", "-f", str(secret_yaml(f, password="two", user="ada")))
    assert added.stdout.strip() == "secret/db configured"
    store = open_store()
    with store.session() as s:
        rows = [r.body for r in s.query(Resource)] + [c.object for c in s.query(ResourceChange)]
    text = json.dumps(rows)
    for value in ("one", "two", "ada"):
        assert f'"{value}"' not in text
        assert base64.b64encode(value.encode()).decode() not in text


def test_a_watch_sees_the_change_of_values(tmp_path: Path) -> None:
    api = local_http()
    body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
            "stringData": {"password": "one"}}
    created = api.post("/api/v1/namespaces/default/secrets", json=body).json()
    since = created["metadata"]["resourceVersion"]
    body["stringData"] = {"password": "two"}
    put = api.put("/api/v1/namespaces/default/secrets/db", json=body)
    assert put.status_code == 200, put.text
    assert int(put.json()["metadata"]["resourceVersion"]) > int(since)
    with api.stream("GET", "/api/v1/namespaces/default/secrets", params={
            "watch": "true", "resourceVersion": since, "timeoutSeconds": "1"}) as resp:
        events = [json.loads(line) for line in resp.iter_lines() if line.strip()]
    assert [e["type"] for e in events] == ["MODIFIED"]
    assert "two" not in json.dumps(events)


def test_kubectl_style_last_applied_annotation_holds_no_values() -> None:
    """kubectl's client-side apply copies the whole object, data included, into an
    annotation; the values in it are replaced before anything is stored."""
    data = {"password": base64.b64encode(b"hunter2-secret").decode()}
    last = json.dumps({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
                       "data": data})
    resp = local_http().post("/api/v1/namespaces/default/secrets", json={
        "apiVersion": "v1", "kind": "Secret", "data": data, "metadata": {
            "name": "db", "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": last}}})
    assert resp.status_code == 201, resp.text
    shown = resp.json()["metadata"]["annotations"]
    kept = json.loads(shown["kubectl.kubernetes.io/last-applied-configuration"])
    assert set(kept["data"]) == {"password"}
    with open_store().session() as s:
        rows = [r.body for r in s.query(Resource)] + [c.object for c in s.query(ResourceChange)]
    assert "hunter2" not in json.dumps(rows) and data["password"] not in json.dumps(rows)
    assert SecretStore(open_store()).get("db") == {"password": "hunter2-secret"}


def test_replace_that_conflicts_changes_no_value() -> None:
    api = local_http()
    api.post("/api/v1/namespaces/default/secrets", json={
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
        "stringData": {"password": "one"}})
    stale = api.put("/api/v1/namespaces/default/secrets/db", json={
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "db", "resourceVersion": "999999"},
        "stringData": {"password": "two"}})
    assert stale.status_code == 409, stale.text
    assert SecretStore(open_store()).get("db") == {"password": "one"}
