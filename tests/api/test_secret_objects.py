"""Secrets and ConfigMaps applied as Kubernetes objects reach pipelines, and a Secret's values
are never stored in the resources table, its change log or a response."""

import base64
import time
import uuid

from kfp import dsl, kubernetes

import flowyard
from flowyard.store import open_store
from flowyard.store.schema import Resource, ResourceChange
from flowyard.store.secrets import SecretStore


@dsl.component
def read_env(a: str, b: str) -> str:
    import os

    return os.environ[a] + "|" + os.environ[b]


@dsl.pipeline(name="uses-secret-and-config")
def uses_both() -> str:
    t = read_env(a="TOKEN", b="MODE")
    kubernetes.use_secret_as_env(t, secret_name="api", secret_key_to_env={"token": "TOKEN"})
    kubernetes.use_config_map_as_env(t, config_map_name="settings",
                                     config_map_key_to_env={"mode": "MODE"})
    return t.output


def test_applied_secret_and_config_map_reach_a_run() -> None:
    token = f"tok-{uuid.uuid4().hex}"
    client = flowyard.Client()
    action, shown = client.apply({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "api"}, "type": "Opaque",
        "data": {"token": base64.b64encode(token.encode()).decode()},
        "stringData": {"user": "ada"}})
    assert action == "created"
    assert "data" not in shown and token not in str(shown)
    assert shown["metadata"]["annotations"]["flowyard.io/secret-keys"] == "token,user"
    assert token not in str(client.get("secret", "api"))
    client.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"},
                  "data": {"mode": "fast"}})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not client.events("configmap", "settings"):
        time.sleep(0.1)
    assert [e["reason"] for e in client.events("configmap", "settings")] == ["Synced"]

    run = client.create_run(uses_both)
    done = client.wait_for_run(run["run_id"], timeout=120)
    assert done["state"] == "SUCCEEDED", done.get("error")
    store = open_store()
    assert store.get_run(run["run_id"]).outputs["Output"] == f"{token}|fast"

    # The value is in the encrypted secret store only.
    with store.session() as s:
        rows = [r.body for r in s.query(Resource)] + [c.object for c in s.query(ResourceChange)]
    assert token not in str(rows)
    assert SecretStore(store).get("api") == {"token": token, "user": "ada"}

    # A patch of one key keeps the others; deleting the object deletes the values.
    api = flowyard.client.local_http()
    patched = api.patch("/api/v1/namespaces/default/secrets/api",
                        json={"stringData": {"user": "grace"}},
                        headers={"content-type": "application/merge-patch+json"})
    assert patched.status_code == 200, patched.text
    assert SecretStore(store).get("api") == {"token": token, "user": "grace"}
    client.delete("secret", "api")
    assert SecretStore(store).get("api") is None


def test_bad_secret_data_names_the_key() -> None:
    resp = flowyard.client.local_http().post("/api/v1/namespaces/default/secrets", json={
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "bad"},
        "data": {"ok": "b2s=", "broken": "not base64!"}})
    assert resp.status_code == 422
    assert [c["field"] for c in resp.json()["details"]["causes"]] == ["data[broken]"]
