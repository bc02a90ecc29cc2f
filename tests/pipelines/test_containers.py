"""Container components on a laptop: the command runs on the host; what only the image has
fails at once naming the image and what is missing; `$FLOWYARD_HOME/images.yaml` maps an
image to a local root and PATH."""

import os
import shutil
import stat
import sys
import uuid
from pathlib import Path

import pytest
import yaml
from kfp import dsl

import flowyard
from flowyard.store import open_store

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")

IMAGE = "gcr.io/acme/trainer:1.0"


@dsl.container_component
def train_abs(epochs: int, result: dsl.OutputPath(str)):  # type: ignore[valid-type, no-untyped-def]
    return dsl.ContainerSpec(image=IMAGE, command=["/opt/acme-trainer/bin/train"],
                             args=[epochs, result])


@dsl.container_component
def train_cli(epochs: int, result: dsl.OutputPath(str)):  # type: ignore[valid-type, no-untyped-def]
    return dsl.ContainerSpec(image=IMAGE, command=["acme-trainctl"], args=["fit", epochs, result])


@dsl.container_component
def host_echo(text: str, result: dsl.OutputPath(str)):  # type: ignore[valid-type, no-untyped-def]
    return dsl.ContainerSpec(image="alpine:3", command=["sh", "-ec"],
                             args=['mkdir -p "$(dirname "$1")"; printf "%s" "$0" > "$1"',
                                   text, result])



def make_tool(path: Path, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nset -e\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def write_images(home: Path, images: dict[str, object]) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "images.yaml").write_text(yaml.safe_dump({"images": images}))


def test_command_runs_on_the_host() -> None:
    @dsl.pipeline
    def p(text: str) -> str:
        return host_echo(text=text).outputs["result"]

    run = flowyard.run(p, arguments={"text": "from the host"})
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs["Output"] == "from the host"


def test_missing_absolute_command_fails_at_once_naming_image_and_path() -> None:
    assert not Path("/opt/acme-trainer/bin/train").exists()

    @dsl.pipeline
    def p() -> None:
        train_abs(epochs=3).set_retry(num_retries=3, backoff_duration="30s")

    run = flowyard.run(p)
    assert run.state == "FAILED"
    task = run.task("train-abs")
    assert task.state == "FAILED"
    error = task.error or ""
    assert IMAGE in error
    assert "/opt/acme-trainer/bin/train" in error
    assert "images.yaml" in error or "docs/containers.md" in error  # says where to look
    row = open_store().get_task(task.id)
    assert row is not None and row.attempts <= 1  # no retries of what can never work
    assert IMAGE in (run.error or "")


def test_missing_command_on_path_fails_naming_it() -> None:
    assert shutil.which("acme-trainctl") is None

    @dsl.pipeline
    def p() -> None:
        train_cli(epochs=1)

    run = flowyard.run(p)
    assert run.state == "FAILED"
    error = run.task("train-cli").error or ""
    assert IMAGE in error and "acme-trainctl" in error


def test_images_yaml_root_maps_absolute_command(fy_home: Path, tmp_path: Path) -> None:
    root = tmp_path / "trainer-root"
    make_tool(root / "opt/acme-trainer/bin/train",
              'mkdir -p "$(dirname "$2")"\nprintf "trained %s epochs" "$1" > "$2"\n')
    write_images(fy_home, {IMAGE: {"root": str(root)}})

    @dsl.pipeline
    def p(epochs: int) -> str:
        return train_abs(epochs=epochs).outputs["result"]

    run = flowyard.run(p, arguments={"epochs": 4})
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs["Output"] == "trained 4 epochs"


def test_images_yaml_path_puts_image_tools_on_path(fy_home: Path, tmp_path: Path) -> None:
    bindir = tmp_path / "trainer-bin"
    make_tool(bindir / "acme-trainctl",
              'mkdir -p "$(dirname "$3")"\nprintf "%s %s" "$1" "$2" > "$3"\n')
    write_images(fy_home, {IMAGE: {"path": [str(bindir)]}})

    @dsl.pipeline
    def p() -> str:
        return train_cli(epochs=2).outputs["result"]

    run = flowyard.run(p)
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs["Output"] == "fit 2"


def test_images_yaml_only_applies_to_its_image(fy_home: Path, tmp_path: Path) -> None:
    bindir = tmp_path / "other-bin"
    make_tool(bindir / "acme-trainctl", "exit 0\n")
    write_images(fy_home, {"ghcr.io/someone/else:2": {"path": [str(bindir)]}})

    @dsl.pipeline
    def p() -> None:
        train_cli(epochs=1)

    run = flowyard.run(p)
    assert run.state == "FAILED"
    assert "acme-trainctl" in (run.task("train-cli").error or "")


def test_runtime_that_does_not_answer_fails_clearly(fy_home: Path) -> None:
    from flowyard.pipelines.images import engine_answers

    if engine_answers("podman"):
        pytest.skip("podman answers on this machine")
    write_images(fy_home, {IMAGE: {"runtime": "podman"}})

    @dsl.pipeline
    def p() -> None:
        train_cli(epochs=1)

    run = flowyard.run(p)
    assert run.state == "FAILED"
    error = run.task("train-cli").error or ""
    assert IMAGE in error and "podman" in error


FAKE_DOCKER = r'''#!/usr/bin/env python3
"""A stand-in for the docker CLI: `info` answers; `run` runs the entrypoint on the host with
the --env-file applied, recording the command line it was given."""
import os
import sys

args = sys.argv[1:]
if args[:1] == ["info"]:
    sys.exit(0)
assert args[0] == "run", args
with open(os.environ["FAKE_DOCKER_LOG"], "a") as log:
    log.write(" ".join(args) + "\n")
env = dict(os.environ)
i, entrypoint, workdir = 1, None, None
while args[i].startswith("-"):
    flag = args[i]
    if flag == "--rm":
        i += 1
        continue
    value = args[i + 1]
    if flag == "--env-file":
        with open(value) as f:
            env.update(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
    elif flag == "--entrypoint":
        entrypoint = value
    elif flag == "-w":
        workdir = value
    i += 2
image, rest = args[i], args[i + 1:]
env["FAKE_DOCKER_IMAGE"] = image
os.chdir(workdir or ".")
os.execvpe(entrypoint, [entrypoint, *rest], env)
'''


def test_docker_runtime_runs_the_image_with_env_and_secrets_kept_off_disk(
        fy_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kfp import kubernetes

    from flowyard.pipelines import images

    bindir = tmp_path / "fake-bin"
    make_tool(bindir / "docker", "")
    (bindir / "docker").write_text(FAKE_DOCKER)
    monkeypatch.setenv("PATH", f"{bindir}:{Path(sys.executable).parent}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(tmp_path / "docker.log"))
    images.engine_answers.cache_clear()
    write_images(fy_home, {"ghcr.io/acme/tool:1": {"runtime": "docker"}})
    value = f"tok-{uuid.uuid4().hex}"
    from flowyard.store.secrets import SecretStore

    SecretStore(open_store()).put("tool-creds", {"token": value})

    @dsl.container_component
    def in_image(result: dsl.OutputPath(str)):  # type: ignore[valid-type, no-untyped-def]
        return dsl.ContainerSpec(
            image="ghcr.io/acme/tool:1", command=["sh", "-ec"],
            args=['mkdir -p "$(dirname "$0")"; printf "%s %s" "$FAKE_DOCKER_IMAGE" '
                  '"${#TOKEN}" > "$0"', result])

    @dsl.pipeline
    def p() -> str:
        t = in_image()
        kubernetes.use_secret_as_env(t, secret_name="tool-creds",
                                     secret_key_to_env={"token": "TOKEN"})
        return t.outputs["result"]

    try:
        run = flowyard.run(p)
    finally:
        images.engine_answers.cache_clear()
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs["Output"] == f"ghcr.io/acme/tool:1 {len(value)}"
    command_line = (tmp_path / "docker.log").read_text()
    assert "ghcr.io/acme/tool:1" in command_line
    assert value not in command_line  # passed in a file, never on the command line
    leaks = [str(f) for f in fy_home.rglob("*")
             if f.is_file() and f.name != "secret.key" and value.encode() in f.read_bytes()]
    assert leaks == [], "the secret was left on disk in plain text"
