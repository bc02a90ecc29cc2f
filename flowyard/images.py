"""What a well-known container image's commands mean when they run on this machine instead.

A container component (or a Pod) names an image and a command. Without a container engine
the command runs on the host, but the host's tools are not the image's: `sh` on Debian is
dash, while in `busybox` and `alpine` images it is BusyBox's ash (which has `[[`), and their
`sed`, `grep`, `wget` are BusyBox applets. `resolve_image(image)` says how to run an argv
so that it behaves as in the image:

- busybox (any registry: `busybox`, `docker.io/library/busybox`, `ghcr.io/containerd/busybox`,
  `registry.k8s.io/busybox`...) and alpine: each BusyBox applet runs as the host's real
  `busybox APPLET` when BusyBox is installed (`apt-get install busybox`); without it, `sh`
  runs as `bash` (which accepts the ash syntax scripts use: `[[`, `==`, `local`) and other
  tools are the host's;
- python: `python`, `python3`, `python3.X` (bare or `/usr/local/bin/...`) are the interpreter
  Flowyard runs under;
- debian and ubuntu: `sh` is dash, as in the image, when the host has it.

Anything else runs as written. This module knows nothing of pipelines or Pods, so every kind
that runs an image on the host (container components, the kubelet) shares one mapping."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import PurePosixPath

# Directories an image keeps its tools in; a command there is looked up by its name.
_BIN_DIRS = ("/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin")
_SHELLS = ("sh", "ash")


@dataclass(frozen=True)
class ImageRun:
    """How commands of one image run here. `family` is the well-known image it was taken
    for (busybox, alpine, python, debian, ubuntu) or None for one run as written."""

    image: str
    family: str | None = None
    commands: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def argv(self, argv: list[str]) -> list[str]:
        """`argv` as it runs on this machine (unchanged for an image with no mapping)."""
        if not argv or not self.commands:
            return list(argv)
        name = _command_name(argv[0])
        if name is None or name not in self.commands:
            return list(argv)
        return [*self.commands[name], *argv[1:]]


def _command_name(exe: str) -> str | None:
    """The tool a command names: `sh` for `sh` or `/bin/sh`; None for another path."""
    if "/" not in exe:
        return exe
    path = PurePosixPath(exe)
    return path.name if str(path.parent) in _BIN_DIRS else None


def family_of(image: str) -> str | None:
    """busybox, alpine, python, debian, ubuntu, or None: the repository's last path
    segment, whatever the registry and tag (`ghcr.io/containerd/busybox:1.36`)."""
    ref = image.strip().split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    repo = last.split(":", 1)[0].lower()
    return repo if repo in ("busybox", "alpine", "python", "debian", "ubuntu") else None


@lru_cache(maxsize=1)
def busybox_applets() -> frozenset[str]:
    """The applets of the host's BusyBox; empty when it is not installed."""
    exe = shutil.which("busybox")
    if exe is None:
        return frozenset()
    try:
        out = subprocess.run([exe, "--list"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return frozenset()
    return frozenset(out.stdout.split()) if out.returncode == 0 else frozenset()


def _busybox_commands() -> dict[str, tuple[str, ...]]:
    applets = busybox_applets()
    exe = shutil.which("busybox")
    if exe and applets:
        commands = {name: (exe, name) for name in applets}
        for shell in _SHELLS:
            commands[shell] = (exe, "sh")
        return commands
    bash = shutil.which("bash")
    return {shell: (bash,) for shell in _SHELLS} if bash else {}


def _python_commands() -> dict[str, tuple[str, ...]]:
    names = ["python", "python3", f"python3.{sys.version_info.minor}"]
    return {name: (sys.executable,) for name in names}


def _debian_commands() -> dict[str, tuple[str, ...]]:
    dash = shutil.which("dash")
    return {"sh": (dash,)} if dash else {}


def resolve_image(image: str) -> ImageRun:
    """How to run the commands of `image` on this machine."""
    family = family_of(image)
    if family in ("busybox", "alpine"):
        return ImageRun(image, family, _busybox_commands())
    if family == "python":
        return ImageRun(image, family, _python_commands())
    if family in ("debian", "ubuntu"):
        return ImageRun(image, family, _debian_commands())
    return ImageRun(image)
