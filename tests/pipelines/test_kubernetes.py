"""Kubernetes features of the platform spec (written with kfp-kubernetes), mapped to their
local meaning: secrets and config maps from Flowyard's store, PVCs as named local volumes
mounted privately per task, the downward API, pod metadata, and what has no local meaning
recorded as an event."""

import hashlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from kfp import compiler, dsl

import flowyard
from flowyard.pipelines.runner import Run
from flowyard.store import open_store

kubernetes = pytest.importorskip("kfp.kubernetes")

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """`flowyard ARGS` in a subprocess sharing this test's FLOWYARD_HOME."""
    return subprocess.run([sys.executable, "-m", "flowyard.cli.main", *args],
                          capture_output=True, text=True, timeout=60, env=dict(os.environ))


def create(kind: str, name: str, **pairs: str) -> str:
    """`flowyard KIND create NAME --from-literal K=V...`; returns what it printed."""
    literals = [a for k, v in pairs.items() for a in ("--from-literal", f"{k}={v}")]
    proc = cli(kind, "create", name, *literals)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout + proc.stderr


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def param(run: Run, task: str, key: str = "Output") -> object:
    return run.task(task).outputs["parameters"][key]


def details(run: Run, task: str) -> dict[str, object]:
    row = open_store().get_task(run.task(task).id)
    assert row is not None
    return row.details or {}


@dsl.component
def env_digest(var: str) -> str:
    import hashlib
    import os

    value = os.environ.get(var)
    if value is None:
        return "absent"
    print(f"{var} has {len(value)} characters")
    return hashlib.sha256(value.encode()).hexdigest()


@dsl.component
def read_env(var: str) -> str:
    import os

    return os.environ.get(var, "<absent>")


@dsl.component
def file_digest(path: str) -> str:
    import hashlib

    with open(path) as f:
        return hashlib.sha256(f.read().encode()).hexdigest()


@dsl.component
def read_file(path: str) -> str:
    with open(path) as f:
        return f.read()


@dsl.component
def write_file(path: str, text: str) -> str:
    import os

    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return path


# secrets -------------------------------------------------------------------------------
def test_secret_as_env_reaches_component_and_is_never_shown(fy_home: Path) -> None:
    value = f"s3cr3t-{uuid.uuid4().hex}"
    assert value not in create("secrets", "db-creds", password=value)

    @dsl.pipeline
    def p() -> str:
        t = env_digest(var="DB_PASSWORD")
        kubernetes.use_secret_as_env(t, secret_name="db-creds",
                                     secret_key_to_env={"password": "DB_PASSWORD"})
        return t.output

    run = flowyard.run(p)
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs["Output"] == sha(value)  # the component saw exactly the secret
    assert "DB_PASSWORD has" in run.logs("env-digest")

    # ... and it is nowhere a user or a backup could read it
    for t in run.tasks:
        assert value not in run.logs(t.path)
    for e in open_store().events(run.id):
        assert value not in e.message
    listed = cli("secrets", "list")
    assert listed.returncode == 0 and "db-creds" in listed.stdout and "password" in listed.stdout
    assert value not in listed.stdout + listed.stderr
    as_json = cli("runs", "get", run.id, "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["state"] == "SUCCEEDED"
    assert value not in as_json.stdout
    logs = cli("logs", run.id)
    assert value not in logs.stdout
    leaks = [str(f) for f in fy_home.rglob("*")
             if f.is_file() and f.name != "secret.key" and value.encode() in f.read_bytes()]
    assert leaks == []
    db_bytes = (fy_home / "flowyard.db").read_bytes()
    assert value.encode() not in db_bytes


def test_compiled_yaml_with_platform_spec_runs_from_the_cli(tmp_path: Path) -> None:
    create("secrets", "cli-secret", token="from-the-store")

    @dsl.pipeline
    def p() -> str:
        t = env_digest(var="TOKEN")
        kubernetes.use_secret_as_env(t, secret_name="cli-secret",
                                     secret_key_to_env={"token": "TOKEN"})
        return t.output

    path = tmp_path / "pipeline.yaml"
    compiler.Compiler().compile(p, str(path))
    assert "platforms:" in path.read_text()  # the second YAML document
    proc = cli("run", str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["state"] == "SUCCEEDED"
    assert result["outputs"]["Output"] == sha("from-the-store")
    assert "from-the-store" not in proc.stdout + proc.stderr


def test_missing_secret_fails_saying_how_to_create_it() -> None:
    @dsl.pipeline
    def p() -> str:
        t = env_digest(var="TOKEN")
        kubernetes.use_secret_as_env(t, secret_name="api-token",
                                     secret_key_to_env={"token": "TOKEN"})
        return t.output

    run = flowyard.run(p)
    assert run.state == "FAILED"
    error = run.task("env-digest").error or ""
    assert "api-token" in error
    assert "flowyard secrets create api-token" in error


def test_secret_without_the_key_names_secret_and_key() -> None:
    value = f"v-{uuid.uuid4().hex}"
    create("secrets", "partial", password=value)

    @dsl.pipeline
    def p() -> None:
        t = env_digest(var="USER_NAME")
        kubernetes.use_secret_as_env(t, secret_name="partial",
                                     secret_key_to_env={"username": "USER_NAME"})

    run = flowyard.run(p)
    assert run.state == "FAILED"
    error = run.task("env-digest").error or ""
    assert "partial" in error and "username" in error and "password" in error
    assert value not in error


def test_missing_optional_secret_is_skipped() -> None:
    @dsl.pipeline
    def p() -> str:
        t = env_digest(var="TOKEN")
        kubernetes.use_secret_as_env(t, secret_name="not-there", optional=True,
                                     secret_key_to_env={"token": "TOKEN"})
        return t.output

    run = flowyard.run(p)
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs["Output"] == "absent"


def test_secret_name_from_pipeline_parameter() -> None:
    create("secrets", "team-b", token="bee")

    @dsl.pipeline
    def p(which: str) -> str:
        t = env_digest(var="TOKEN")
        kubernetes.use_secret_as_env(t, secret_name=which, secret_key_to_env={"token": "TOKEN"})
        return t.output

    run = flowyard.run(p, arguments={"which": "team-b"})
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs["Output"] == sha("bee")


def test_secret_as_volume_files_at_mount_path() -> None:
    value = f"key-{uuid.uuid4().hex}"
    create("secrets", "tls", **{"tls.key": value})
    mount = f"/flowyard-test-secret-{uuid.uuid4().hex[:8]}"

    @dsl.pipeline
    def p(path: str) -> str:
        t = file_digest(path=path)
        kubernetes.use_secret_as_volume(t, secret_name="tls", mount_path=mount)
        return t.output

    run = flowyard.run(p, arguments={"path": f"{mount}/tls.key"})
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs["Output"] == sha(value)
    # the files were private to the task: nothing of them is left on the host
    host = Path(mount)
    assert not (host / "tls.key").exists()
    task_id = run.task("file-digest").id
    assert not list(Path("/dev/shm").glob(f"flowyard-{task_id}*"))
    if host.is_dir():
        host.rmdir()  # the empty mount point (see docs/kubernetes.md)


def test_secret_volume_not_left_behind_by_a_cache_hit() -> None:
    value = f"key-{uuid.uuid4().hex}"
    create("secrets", "cached-tls", **{"tls.key": value})
    mount = f"/flowyard-test-secret-{uuid.uuid4().hex[:8]}"

    @dsl.pipeline
    def p(path: str) -> str:
        t = file_digest(path=path)
        kubernetes.use_secret_as_volume(t, secret_name="cached-tls", mount_path=mount)
        return t.output

    try:
        runs = [flowyard.run(p, arguments={"path": f"{mount}/tls.key"}) for _ in range(2)]
    finally:
        if Path(mount).is_dir():
            Path(mount).rmdir()
    assert [r.task("file-digest").state for r in runs] == ["SUCCEEDED", "CACHED"]
    assert runs[1].outputs["Output"] == sha(value)
    for r in runs:
        assert not list(Path("/dev/shm").glob(f"flowyard-{r.task('file-digest').id}*"))
        leftovers = [f for f in Path("/dev/shm").glob("flowyard-*/**/*")
                     if f.is_file() and value.encode() in f.read_bytes()]
        assert leftovers == []


def test_secret_volume_not_left_behind_when_the_task_cannot_start() -> None:
    value = f"key-{uuid.uuid4().hex}"
    create("secrets", "early-tls", **{"tls.key": value})

    @dsl.pipeline
    def p() -> None:
        t = read_file(path="/x/tls.key")
        kubernetes.use_secret_as_volume(t, secret_name="early-tls", mount_path="/x")
        kubernetes.mount_pvc(t, pvc_name="no-such-volume", mount_path="/y")

    run = flowyard.run(p)
    assert run.state == "FAILED"
    assert "no-such-volume" in (run.task("read-file").error or "")
    leftovers = [f for f in Path("/dev/shm").glob("flowyard-*/**/*")
                 if f.is_file() and value.encode() in f.read_bytes()]
    assert leftovers == []


# config maps -------------------------------------------------------------------------
def test_config_map_as_env_and_volume() -> None:
    create("configmaps", "settings", mode="fast", level="3")
    mount = f"/flowyard-test-cm-{uuid.uuid4().hex[:8]}"

    @dsl.pipeline
    def p() -> None:
        e = read_env(var="MODE")
        kubernetes.use_config_map_as_env(e, config_map_name="settings",
                                         config_map_key_to_env={"mode": "MODE"})
        v = read_file(path=f"{mount}/level")
        kubernetes.use_config_map_as_volume(v, config_map_name="settings", mount_path=mount)

    try:
        run = flowyard.run(p)
        assert run.state == "SUCCEEDED", run.error
        assert param(run, "read-env") == "fast"
        assert param(run, "read-file") == "3"
        listed = cli("configmaps", "list")
        assert "settings" in listed.stdout and "level" in listed.stdout
    finally:
        if Path(mount).is_dir():
            Path(mount).rmdir()


def test_missing_config_map_names_the_command() -> None:
    @dsl.pipeline
    def p() -> None:
        e = read_env(var="MODE")
        kubernetes.use_config_map_as_env(e, config_map_name="nope",
                                         config_map_key_to_env={"mode": "MODE"})

    run = flowyard.run(p)
    assert run.state == "FAILED"
    assert "flowyard configmaps create nope" in (run.task("read-env").error or "")


# volumes -------------------------------------------------------------------------------
def test_pvc_mount_persists_between_runs_and_is_private(fy_home: Path) -> None:
    proc = cli("volumes", "create", "shared-data", "--size", "1Gi")
    assert proc.returncode == 0, proc.stderr
    mount = f"/data-{uuid.uuid4().hex[:8]}"

    @dsl.pipeline
    def writer() -> None:
        t = write_file(path=f"{mount}/model.txt", text="weights v1")
        kubernetes.mount_pvc(t, pvc_name="shared-data", mount_path=mount)

    @dsl.pipeline
    def reader() -> str:
        t = read_file(path=f"{mount}/model.txt")
        kubernetes.mount_pvc(t, pvc_name="shared-data", mount_path=mount)
        return t.output

    try:
        first = flowyard.run(writer)
        assert first.state == "SUCCEEDED", first.error
        # on the host, the data is in the volume, not at the mount path
        assert not Path(mount, "model.txt").exists()
        second = flowyard.run(reader)
        assert second.state == "SUCCEEDED", second.error
        assert second.outputs["Output"] == "weights v1"
        listed = cli("volumes", "list")
        assert "shared-data" in listed.stdout
        volume_files = list((fy_home / "volumes" / "shared-data").rglob("model.txt"))
        assert [f.read_text() for f in volume_files] == ["weights v1"]
    finally:
        if Path(mount).is_dir():
            Path(mount).rmdir()  # rmdir: fails loudly should anything have been left inside


def test_pvc_mount_sub_path_binds_a_folder_inside_the_volume(fy_home: Path) -> None:
    assert cli("volumes", "create", "models").returncode == 0
    mount = f"/models-{uuid.uuid4().hex[:8]}"

    @dsl.pipeline
    def p() -> str:
        w = write_file(path=f"{mount}/weights.bin", text="w1")
        kubernetes.mount_pvc(w, pvc_name="models", mount_path=mount, sub_path="resnet/v1")
        r = read_file(path=f"{mount}/v1/weights.bin").after(w)
        kubernetes.mount_pvc(r, pvc_name="models", mount_path=mount, sub_path="resnet")
        return r.output

    try:
        run = flowyard.run(p)
        assert run.state == "SUCCEEDED", run.error
        assert run.outputs["Output"] == "w1"
        volume = fy_home / "volumes" / "models"
        assert (volume / "resnet" / "v1" / "weights.bin").read_text() == "w1"
        assert not (volume / "weights.bin").exists()
    finally:
        if Path(mount).is_dir():
            Path(mount).rmdir()


def test_pvc_sub_path_cannot_leave_the_volume() -> None:
    assert cli("volumes", "create", "boxed").returncode == 0

    @dsl.pipeline
    def p() -> None:
        t = read_file(path="/etc/hostname")
        kubernetes.mount_pvc(t, pvc_name="boxed", mount_path="/boxed-never", sub_path="../..")

    run = flowyard.run(p)
    assert run.state == "FAILED"
    assert "subPath" in (run.task("read-file").error or "")
    assert not Path("/boxed-never").exists()


def test_pvc_mount_of_unknown_volume_fails_with_advice() -> None:
    @dsl.pipeline
    def p() -> None:
        t = read_file(path="/nowhere/x")
        kubernetes.mount_pvc(t, pvc_name="ghost", mount_path="/nowhere")

    run = flowyard.run(p)
    assert run.state == "FAILED"
    assert "flowyard volumes create ghost" in (run.task("read-file").error or "")


def test_create_and_delete_pvc(fy_home: Path) -> None:
    mount = f"/scratch-{uuid.uuid4().hex[:8]}"

    @dsl.pipeline
    def p() -> str:
        pvc = kubernetes.CreatePVC(pvc_name_suffix="-scratch", access_modes=["ReadWriteOnce"],
                                   size="1Mi", storage_class_name="standard")
        w = write_file(path=f"{mount}/x.txt", text="between steps")
        kubernetes.mount_pvc(w, pvc_name=pvc.outputs["name"], mount_path=mount)
        r = read_file(path=f"{mount}/x.txt").after(w)
        kubernetes.mount_pvc(r, pvc_name=pvc.outputs["name"], mount_path=mount)
        kubernetes.DeletePVC(pvc_name=pvc.outputs["name"]).after(r)
        return r.output

    try:
        run = flowyard.run(p)
        assert run.state == "SUCCEEDED", run.error
        assert run.outputs["Output"] == "between steps"
        listed = cli("volumes", "list")
        assert "scratch" not in listed.stdout  # deleted by the DeletePVC step
        assert not any((fy_home / "volumes").glob("*scratch*"))
    finally:
        if Path(mount).is_dir():
            Path(mount).rmdir()


# downward API, pod metadata, what has no local meaning ----------------------------------
def test_field_path_env_labels_and_annotations() -> None:
    @dsl.component
    def pod_info() -> str:
        import json
        import os

        return json.dumps({k: os.environ.get(k) for k in ("POD_NAME", "NS", "TEAM", "OWNER",
                                                          "NOPE")})

    @dsl.pipeline
    def p() -> str:
        t = pod_info()
        kubernetes.add_pod_label(t, "team", "vision")
        kubernetes.add_pod_annotation(t, "owner", "ada@example.com")
        kubernetes.use_field_path_as_env(t, "POD_NAME", "metadata.name")
        kubernetes.use_field_path_as_env(t, "NS", "metadata.namespace")
        kubernetes.use_field_path_as_env(t, "TEAM", "metadata.labels['team']")
        kubernetes.use_field_path_as_env(t, "OWNER", "metadata.annotations['owner']")
        kubernetes.use_field_path_as_env(t, "NOPE", "metadata.labels['missing']")
        return t.output

    run = flowyard.run(p)
    assert run.state == "SUCCEEDED", run.error
    env = json.loads(str(run.outputs["Output"]))
    assert env["TEAM"] == "vision"
    assert env["OWNER"] == "ada@example.com"
    assert env["NS"] == "default"
    assert env["POD_NAME"] and "pod-info" in env["POD_NAME"]
    assert env["NOPE"] == ""
    d = details(run, "pod-info")
    assert d.get("labels") == {"team": "vision"}
    assert d.get("annotations") == {"owner": "ada@example.com"}


def test_node_selector_and_toleration_recorded_as_event() -> None:
    @dsl.pipeline
    def p() -> str:
        t = read_env(var="HOME")
        kubernetes.add_node_selector(t, "cloud.google.com/gke-accelerator", "nvidia-tesla-t4")
        kubernetes.add_toleration(t, key="nvidia.com/gpu", operator="Exists",
                                  effect="NoSchedule")
        return t.output

    run = flowyard.run(p)
    assert run.state == "SUCCEEDED", run.error
    task = run.task("read-env")
    events = [e for e in open_store().events(run.id) if e.task_id == task.id]
    ignored = [e for e in events if e.reason == "IgnoredLocally"]
    assert len(ignored) == 1
    assert ignored[0].type == "Warning"
    assert "nodeSelector" in ignored[0].message and "tolerations" in ignored[0].message


@dsl.component
def scratch_roundtrip(folder: str) -> str:
    import os

    before = sorted(os.listdir(folder))
    with open(os.path.join(folder, "tmp.bin"), "w") as f:
        f.write("scratch")
    with open(os.path.join(folder, "tmp.bin")) as f:
        return f"{before}|{f.read()}"


def test_empty_dir_and_ephemeral_volume_are_fresh_private_folders(fy_home: Path) -> None:
    disk = f"/scratch-{uuid.uuid4().hex[:8]}"
    memory = f"/shm-{uuid.uuid4().hex[:8]}"
    eph = f"/eph-{uuid.uuid4().hex[:8]}"

    @dsl.pipeline
    def p() -> None:
        a = scratch_roundtrip(folder=disk)
        kubernetes.empty_dir_mount(a, volume_name="scratch", mount_path=disk)
        b = scratch_roundtrip(folder=memory)
        kubernetes.empty_dir_mount(b, volume_name="cache", mount_path=memory, medium="Memory")
        c = scratch_roundtrip(folder=eph)
        kubernetes.add_ephemeral_volume(c, volume_name="work", mount_path=eph,
                                        access_modes=["ReadWriteOnce"], size="1Gi")

    try:
        for _ in range(2):  # each run starts from an empty folder
            run = flowyard.run(p, enable_caching=False)
            assert run.state == "SUCCEEDED", run.error
            for name in ("scratch-roundtrip", "scratch-roundtrip-2", "scratch-roundtrip-3"):
                assert param(run, name) == "[]|scratch"
        for path in (disk, memory, eph):
            assert not Path(path, "tmp.bin").exists()  # nothing reached the host
        # and nothing of the scratch volumes is kept once the tasks end
        assert not [f for f in fy_home.rglob("tmp.bin")]
        assert not [f for f in Path("/dev/shm").glob("flowyard-*/**/tmp.bin")]
    finally:
        for path in (disk, memory, eph):
            if Path(path).is_dir():
                Path(path).rmdir()


def test_every_pod_setting_without_local_meaning_is_recorded() -> None:
    @dsl.pipeline
    def p() -> str:
        t = read_env(var="HOME")
        kubernetes.set_security_context(t, run_as_user=1000, run_as_non_root=True)
        kubernetes.set_image_pull_secrets(t, ["regcred"])
        kubernetes.add_node_affinity(
            t, match_expressions=[{"key": "zone", "operator": "In", "values": ["a"]}])
        return t.output

    run = flowyard.run(p)
    assert run.state == "SUCCEEDED", run.error
    messages = " ".join(e.message for e in open_store().events(run.id)
                        if e.reason == "IgnoredLocally")
    for key in ("securityContext", "imagePullSecret", "nodeAffinity"):
        assert key in messages


def test_timeout_stops_a_task_that_runs_too_long() -> None:
    @dsl.component
    def slow() -> str:
        import time

        time.sleep(4)
        return "finished"

    @dsl.pipeline
    def p() -> str:
        t = slow()
        kubernetes.set_timeout(t, seconds=1)
        return t.output

    run = flowyard.run(p)
    assert run.state == "FAILED"
    error = (run.task("slow").error or "").lower()
    assert "deadline" in error or "timeout" in error or "timed out" in error


def test_platform_config_of_a_pipeline_loaded_from_yaml(tmp_path: Path) -> None:
    from kfp import components

    create("secrets", "inner-secret", token="tok")

    @dsl.pipeline
    def inner() -> str:
        t = env_digest(var="TOKEN")
        kubernetes.use_secret_as_env(t, secret_name="inner-secret",
                                     secret_key_to_env={"token": "TOKEN"})
        return t.output

    path = tmp_path / "inner.yaml"
    compiler.Compiler().compile(inner, str(path))
    loaded = components.load_component_from_file(str(path))

    @dsl.pipeline
    def outer() -> str:
        return loaded().output

    run = flowyard.run(outer)
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs["Output"] == sha("tok")
