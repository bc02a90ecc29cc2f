"""What a container image means on a laptop. By default a container component's command runs
on the host. `$FLOWYARD_HOME/images.yaml` can say more per image:

    images:
      gcr.io/acme/trainer:1.0:
        root: /opt/trainer-root     # absolute paths in the command are looked up here first
        path: [/opt/trainer/bin]    # prepended to PATH
      ghcr.io/acme/ocr:2:
        runtime: docker             # run it in Docker or Podman, when an engine answers

`FLOWYARD_CONTAINER_RUNTIME=docker|podman` sends every container component to that engine.

Without an entry, a well-known image's commands are mapped to faithful local equivalents by
`flowyard.images.resolve_image` (busybox/alpine: BusyBox's `sh` and applets; python: this
interpreter; debian/ubuntu: dash), re-exported here."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from flowyard.images import ImageRun, resolve_image
from flowyard.pipelines.errors import TaskError

__all__ = ["ImagePolicy", "ImageRun", "engine_answers", "in_engine", "on_host", "policy_for",
           "resolve_image"]


@dataclass(frozen=True)
class ImagePolicy:
    root: str | None = None
    path: tuple[str, ...] = ()
    runtime: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _config(home: Path) -> dict[str, Any]:
    path = home / "images.yaml"
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise TaskError(f"{path}: invalid YAML: {exc}") from exc
    images = data.get("images") or {}
    if not isinstance(images, dict):
        raise TaskError(f"{path}: 'images' must map image names to settings")
    return images


def policy_for(image: str, home: Path) -> ImagePolicy:
    entry = _config(home).get(image) or {}
    runtime = entry.get("runtime") or os.environ.get("FLOWYARD_CONTAINER_RUNTIME") or None
    if runtime not in (None, "docker", "podman", "host"):
        raise TaskError(f"image {image}: runtime {runtime!r}; expected docker, podman or host")
    return ImagePolicy(entry.get("root"), tuple(entry.get("path") or ()),
                       None if runtime == "host" else runtime)


@lru_cache(maxsize=4)
def engine_answers(runtime: str) -> bool:
    if shutil.which(runtime) is None:
        return False
    try:
        return subprocess.run([runtime, "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def on_host(argv: list[str], policy: ImagePolicy, env: dict[str, str], image: str = ""
            ) -> list[str]:
    """argv with the image's root and PATH applied; for an image images.yaml does not
    describe, the well-known image mapping (`resolve_image`)."""
    if not policy.root and not policy.path:
        return resolve_image(image).argv(argv)
    if policy.path:
        env["PATH"] = os.pathsep.join([*policy.path, env.get("PATH", "")])
    exe = argv[0]
    if policy.root and exe.startswith("/") and not Path(exe).exists():
        mapped = Path(policy.root) / exe.lstrip("/")
        if mapped.exists():
            return [str(mapped), *argv[1:]]
    return argv


def in_engine(runtime: str, image: str, argv: list[str], env: dict[str, str],
              component_env: dict[str, str], shared: list[str], workdir: Path) -> list[str]:
    """`docker run` of the image with the paths the task reads and writes mounted at the same
    place, and its environment passed in a private file (not on the command line)."""
    if not engine_answers(runtime):
        raise TaskError(f"image {image}: runtime {runtime} was asked for, but `{runtime} info` "
                        "does not answer on this machine")
    env_file = workdir / "container.env"
    fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        for k, v in component_env.items():
            f.write(f"{k}={v}\n")
    cmd = [runtime, "run", "--rm", "--network", "host", "--env-file", str(env_file),
           "-w", str(workdir)]
    for path in dict.fromkeys(shared):
        cmd += ["-v", f"{path}:{path}"]
    return [*cmd, "--entrypoint", argv[0], image, *argv[1:]]
