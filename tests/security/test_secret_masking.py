"""Issue 8, security item 5 (the half above the executor): every value of a Secret injected
into a task, as an env var or as a volume's files, is handed to the executor in
`Work.log_policy.mask`, which masks it in the stored and streamed log. Outputs stay as the
component returned them (docs/security.md, "Secrets")."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from kfp import dsl

import flowyard
from flowyard.pipelines.platform_spec import PlatformResolver, TaskPlatform
from flowyard.store import open_store
from flowyard.store.secrets import SecretStore
from flowyard.store.volumes import VolumeStore

kubernetes = pytest.importorskip("kfp.kubernetes")
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


def test_values_injected_as_env_and_volume_are_to_be_masked(tmp_path: Path) -> None:
    store = open_store()
    secrets = SecretStore(store)
    secrets.put("api", {"token": "tok-123456", "unused": "never-injected"})
    secrets.put("tls", {"tls.key": "-----BEGIN KEY-----\nAbCdEf0123\n}\n-----END KEY-----\n"})
    secrets.put("settings", {"mode": "fast-mode"}, kind="ConfigMap")
    config = {
        "secretAsEnv": [{"secretName": "api", "keyToEnv": [{"secretKey": "token",
                                                            "envVar": "TOKEN"}]}],
        "secretAsVolume": [{"secretName": "tls", "mountPath": "/tls"}],
        "configMapAsEnv": [{"configMapName": "settings",
                            "keyToEnv": [{"configMapKey": "mode", "envVar": "MODE"}]}],
    }
    out = PlatformResolver(config, lambda src: None, secrets, VolumeStore(store), "pod", "t1",
                           tmp_path / "mounts").resolve()
    mask = out.mask_values()
    pem = "-----BEGIN KEY-----\nAbCdEf0123\n}\n-----END KEY-----\n"
    assert mask == [pem, "-----BEGIN KEY-----", "-----END KEY-----", "AbCdEf0123", "tok-123456"]
    assert "never-injected" not in mask  # only what the task was given
    assert "fast-mode" not in mask  # config maps are not secret
    assert "}" not in mask  # a one-character line of a multi-line value would blank the log


def test_short_values_are_masked_too_blank_ones_are_not() -> None:
    platform = TaskPlatform(secret_values=["abc", "x", "   ", "", "abc"])
    assert platform.mask_values() == ["abc", "x"]


@dsl.component
def leaky(path: str) -> str:
    import os

    print("the token is", os.environ["TOKEN"])
    with open(path) as f:
        print("the key is", f.read())
    return os.environ["TOKEN"]


def _leaky_run() -> tuple[flowyard.Run, str, str]:
    token, key = f"tok-{uuid.uuid4().hex}", f"key-{uuid.uuid4().hex}"
    secrets = SecretStore(open_store())
    secrets.put("api", {"token": token})
    secrets.put("tls", {"tls.key": key})
    mount = f"/flowyard-test-mask-{uuid.uuid4().hex[:8]}"

    @dsl.pipeline
    def p() -> str:
        t = leaky(path=f"{mount}/tls.key")
        kubernetes.use_secret_as_env(t, secret_name="api", secret_key_to_env={"token": "TOKEN"})
        kubernetes.use_secret_as_volume(t, secret_name="tls", mount_path=mount)
        return t.output

    try:
        run = flowyard.run(p)
    finally:
        if Path(mount).is_dir():
            Path(mount).rmdir()
    assert run.state == "SUCCEEDED", run.error
    return run, token, key


def test_outputs_stay_as_the_component_returned_them() -> None:
    run, token, _ = _leaky_run()
    assert run.outputs["Output"] == token


def test_a_printed_secret_is_masked_in_the_stored_log() -> None:
    run, token, key = _leaky_run()
    row = open_store().get_task(run.task("leaky").id)
    assert row is not None and row.log_path
    log = Path(row.log_path).read_text()
    assert "the token is ***" in log and "the key is ***" in log
    assert token not in log and key not in log
    shown = subprocess.run([sys.executable, "-m", "flowyard.cli.main", "logs", run.id, "leaky"],
                           capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert shown.returncode == 0, shown.stderr
    assert "the token is ***" in shown.stdout and "the key is ***" in shown.stdout
    assert token not in shown.stdout and key not in shown.stdout
