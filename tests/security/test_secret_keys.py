"""Issue 8, security item 2: a Secret's or ConfigMap's key names become file names when
mounted, so a key like `../../../../tmp/x` once wrote /tmp/x. Keys are now checked as
Kubernetes checks them (IsConfigMapKey) in the API, in the CLI, and again when a volume is
written."""

import base64
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from kfp import dsl

import flowyard
from flowyard.client import local_http
from flowyard.pipelines.errors import TaskError
from flowyard.pipelines.platform_spec import PlatformResolver
from flowyard.store import open_store
from flowyard.store.schema import Secret
from flowyard.store.secrets import SecretStore
from flowyard.store.volumes import VolumeStore

kubernetes = pytest.importorskip("kfp.kubernetes")
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")

ESCAPE = "../../../../../../../../../../../../../../../tmp/flowyard-pwned-"
BAD_KEYS = ["../../../../tmp/x", ".", "..", "..data", "a/b", "sp ace", "k" * 254, ""]


def fy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "flowyard.cli.main", *args],
                          capture_output=True, text=True, timeout=60, env=dict(os.environ))


def post(plural: str, body: dict) -> httpx.Response:
    return local_http().post(f"/api/v1/namespaces/default/{plural}", json=body)


@pytest.mark.parametrize("key", BAD_KEYS)
def test_api_refuses_a_secret_key_that_is_not_a_config_key(key: str) -> None:
    for field in ("stringData", "data"):
        value = "pwned" if field == "stringData" else base64.b64encode(b"pwned").decode()
        resp = post("secrets", {"apiVersion": "v1", "kind": "Secret",
                                "metadata": {"name": "evil"}, field: {key: value}})
        assert resp.status_code == 422, resp.text
        status = resp.json()
        assert status["reason"] == "Invalid"
        # Kubernetes merges stringData into data before validating: both are data[KEY].
        assert [c["field"] for c in status["details"]["causes"]] == [f"data[{key}]"]
        assert f"data[{key}]" in status["message"]
    assert local_http().get(
        "/api/v1/namespaces/default/secrets/evil").status_code == 404
    assert SecretStore(open_store()).get("evil") is None


def test_api_messages_say_what_kubernetes_says() -> None:
    resp = post("secrets", {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "m"},
                            "stringData": {"..": "x", "../x": "y", "ok.key": "z"}})
    causes = {c["field"]: c["message"] for c in resp.json()["details"]["causes"]}
    assert set(causes) == {"data[..]", "data[../x]"}
    assert "must not be '..'" in causes["data[..]"]
    assert "a valid config key must consist of alphanumeric characters" in causes["data[../x]"]
    assert "must not start with '..'" in causes["data[../x]"]


def test_api_accepts_every_valid_key() -> None:
    keys = ["tls.key", "A_B-c.9", ".hidden", "k" * 253]
    resp = post("secrets", {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "fine"},
                            "stringData": {k: "v" for k in keys}})
    assert resp.status_code == 201, resp.text
    assert sorted(SecretStore(open_store()).get("fine") or {}) == sorted(keys)


def test_api_refuses_bad_config_map_keys_in_data_and_binary_data() -> None:
    resp = post("configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                               "metadata": {"name": "cm"}, "data": {"../x": "1", "good": "2"},
                               "binaryData": {"..": "AA==", "good": "AA=="}})
    assert resp.status_code == 422, resp.text
    fields = sorted(c["field"] for c in resp.json()["details"]["causes"])
    assert fields == ["binaryData[..]", "binaryData[good]", "data[../x]"]  # good: a duplicate
    assert local_http().get(
        "/api/v1/namespaces/default/configmaps/cm").status_code == 404


def test_replace_and_patch_cannot_add_a_bad_key() -> None:
    api = local_http()
    assert post("secrets", {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                            "stringData": {"a": "1"}}).status_code == 201
    patched = api.patch("/api/v1/namespaces/default/secrets/s",
                        json={"stringData": {"../../escape": "x"}},
                        headers={"content-type": "application/merge-patch+json"})
    assert patched.status_code == 422, patched.text
    replaced = api.put("/api/v1/namespaces/default/secrets/s", json={
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
        "stringData": {"/etc/passwd": "x"}})
    assert replaced.status_code == 422, replaced.text
    assert SecretStore(open_store()).get("s") == {"a": "1"}


@pytest.mark.parametrize("kind", ["secrets", "configmaps"])
def test_cli_refuses_a_key_that_is_a_path(kind: str, tmp_path: Path) -> None:
    proc = fy(kind, "create", "evil", "--from-literal", "../../../../tmp/x=pwned")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "'../../../../tmp/x'" in proc.stderr and "a valid config key" in proc.stderr
    secret_file = tmp_path / "token"
    secret_file.write_text("v")
    proc = fy(kind, "create", "evil", "--from-file", f"..={secret_file}")
    assert proc.returncode == 2
    assert "must not be '..'" in proc.stderr
    listed = fy(kind, "list")
    assert "evil" not in listed.stdout


def test_store_refuses_a_bad_key() -> None:
    with pytest.raises(ValueError, match="a valid config key"):
        SecretStore(open_store()).put("s", {"../x": "v"})


def _plant(name: str, data: dict[str, str]) -> None:
    """A secret with keys the store no longer accepts, as a store written before keys were
    checked may hold: the mount must still refuse them."""
    store = open_store()
    secrets = SecretStore(store)
    with store.session() as s, s.begin():
        s.add(Secret(name=name, namespace="default", kind="Secret",
                     data=secrets._encode("Secret", data)))


@dsl.component
def read_it(path: str) -> str:
    with open(path) as f:
        return f.read()


def test_mount_refuses_a_stored_key_that_walks_out_of_the_volume() -> None:
    target = Path(f"/tmp/flowyard-pwned-{uuid.uuid4().hex}")
    _plant("old", {"ok": "fine", ESCAPE + target.name: "pwned"})
    mount = f"/flowyard-test-keys-{uuid.uuid4().hex[:8]}"

    @dsl.pipeline
    def p() -> str:
        t = read_it(path=f"{mount}/ok")
        kubernetes.use_secret_as_volume(t, secret_name="old", mount_path=mount)
        return t.output

    try:
        run = flowyard.run(p)
    finally:
        if Path(mount).is_dir():
            Path(mount).rmdir()
    assert run.state == "FAILED"
    error = run.task("read-it").error or ""
    assert "cannot be a file name in a volume" in error and "Secret 'old'" in error
    assert not target.exists()


def test_secret_name_from_a_parameter_cannot_name_a_path() -> None:
    @dsl.pipeline
    def p(which: str) -> str:
        t = read_it(path="/x/ok")
        kubernetes.use_secret_as_volume(t, secret_name=which, mount_path="/x")
        return t.output

    run = flowyard.run(p, arguments={"which": "../../escape"})
    assert run.state == "FAILED"
    assert "Secret name '../../escape'" in (run.task("read-it").error or "")


def _resolver(tmp_path: Path, config: dict) -> PlatformResolver:
    store = open_store()
    return PlatformResolver(config, lambda src: None, SecretStore(store), VolumeStore(store),
                            "pod", "task-1", tmp_path / "mounts")


@pytest.mark.parametrize("path", ["../x", "/etc/x", "a/../../x", "..x", ""])
def test_items_paths_must_stay_inside_the_volume(tmp_path: Path, path: str) -> None:
    SecretStore(open_store()).put("tls", {"tls.key": "k"})
    resolver = _resolver(tmp_path, {"secretAsVolume": [{
        "secretName": "tls", "mountPath": "/m", "items": [{"key": "tls.key", "path": path}]}]})
    with pytest.raises(TaskError, match=r"items\[0\]\.path"):
        resolver.resolve()
    assert not (tmp_path / "x").exists()
    assert not (tmp_path / "mounts").exists()  # a refused task leaves no secret files


def test_items_put_keys_at_their_paths(tmp_path: Path) -> None:
    SecretStore(open_store()).put("tls", {"tls.key": "k", "tls.crt": "c"})
    out = _resolver(tmp_path, {"secretAsVolume": [{
        "secretName": "tls", "mountPath": "/m",
        "items": [{"key": "tls.key", "path": "private/key.pem"}]}]}).resolve()
    [mount] = out.mounts
    folder = Path(mount.source)
    assert (folder / "private" / "key.pem").read_text() == "k"
    assert not (folder / "tls.crt").exists()


def test_the_kubernetes_client_gets_kubernetes_errors(fy_home: Path) -> None:
    """With the real `kubernetes` client against `flowyard up`: the 422 names the field as
    Kubernetes does, and replacing a Secret's values gives it a new resourceVersion."""
    k8s = pytest.importorskip("kubernetes")
    from tests.api.conftest import Server

    srv = Server(fy_home).start()
    try:
        cfg = k8s.client.Configuration()
        cfg.host = srv.url
        api = k8s.client.CoreV1Api(k8s.client.ApiClient(cfg))
        evil = k8s.client.V1Secret(metadata=k8s.client.V1ObjectMeta(name="evil"),
                                   string_data={"../../../../tmp/x": "pwned"})
        with pytest.raises(k8s.client.ApiException) as info:
            api.create_namespaced_secret("default", evil)
        assert info.value.status == 422
        causes = json.loads(info.value.body)["details"]["causes"]
        assert [c["field"] for c in causes] == ["data[../../../../tmp/x]"]
        made = api.create_namespaced_secret("default", k8s.client.V1Secret(
            metadata=k8s.client.V1ObjectMeta(name="ok"), string_data={"a": "1"}))
        changed = api.replace_namespaced_secret("ok", "default", k8s.client.V1Secret(
            metadata=k8s.client.V1ObjectMeta(name="ok"), string_data={"a": "2"}))
        assert int(changed.metadata.resource_version) > int(made.metadata.resource_version)
        assert api.read_namespaced_secret("ok", "default").data is None  # never shown
    finally:
        srv.stop()
