"""Recognising a KFP lightweight Python component in its compiled container spec, so it can
run in a warm process instead of `sh -c "pip install kfp && python3 -m kfp.dsl.executor_main"`."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

_EXECUTOR_MAIN = "kfp.dsl.executor_main"


@dataclass(frozen=True)
class PythonComponent:
    source: str
    function: str
    packages: tuple[str, ...] = ()
    index_urls: tuple[str, ...] = ()


def parse(container: dict[str, Any]) -> PythonComponent | None:
    return _parse(tuple(map(str, container.get("command", []))),
                  tuple(map(str, container.get("args", []))))


@lru_cache(maxsize=256)
def _parse(command_t: tuple[str, ...], args_t: tuple[str, ...]) -> PythonComponent | None:
    command, args = list(command_t), list(args_t)
    if not any(_EXECUTOR_MAIN in c for c in command) or "--function_to_execute" not in args:
        return None
    function = args[args.index("--function_to_execute") + 1]
    if command[-2:] == ["-m", _EXECUTOR_MAIN]:
        # A containerized component (`kfp component build`): its source is found through the
        # kfp_config.ini next to it, as inside the image.
        return PythonComponent("", function)
    try:
        program = command[command.index("-ec") + 2]
    except (ValueError, IndexError):
        return None
    packages, index_urls = _pip_requests(command)
    return PythonComponent(program, function, tuple(packages), tuple(index_urls))


def _pip_requests(command: list[str]) -> tuple[list[str], list[str]]:
    packages: list[str] = []
    index_urls: list[str] = []
    for element in command:
        if "pip install" not in element:
            continue
        try:
            words = shlex.split(element)
        except ValueError:
            continue
        collecting = False
        skip_next = False
        for i, word in enumerate(words):
            if skip_next:
                skip_next = False
                continue
            if word == "install" and i > 0 and words[i - 1] == "pip":
                collecting = True
                continue
            if word in ("&&", "||", ";"):
                collecting = False
                continue
            if not collecting:
                continue
            if word in ("--index-url", "--extra-index-url", "--trusted-host", "-i"):
                skip_next = True
                if word != "--trusted-host" and i + 1 < len(words):
                    index_urls.append(words[i + 1])
                continue
            if word.startswith("-"):
                continue
            if word.startswith("kfp==") or word.startswith("kfp>=") or word == "kfp":
                # The SDK pin the compiler adds; the warm process already has kfp.
                continue
            packages.append(word)
    return packages, sorted(set(index_urls))


def missing_packages(packages: list[str]) -> list[str]:
    """Requirements the current environment does not satisfy."""
    return list(_missing(tuple(packages)))


@lru_cache(maxsize=256)
def _missing(packages: tuple[str, ...]) -> tuple[str, ...]:
    # Installed distributions don't change under a running engine, except through our own
    # layered venvs, which this check deliberately doesn't see.
    missing = []
    for text in packages:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            missing.append(text)
            continue
        if req.marker is not None and not req.marker.evaluate():
            continue
        try:
            version = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            missing.append(text)
            continue
        if req.specifier and not req.specifier.contains(version, prereleases=True):
            missing.append(text)
    return tuple(missing)


def find_kfp_config(start: Path) -> Path | None:
    """The folder holding kfp_config.ini, searching `start` and its parents."""
    for folder in (start, *start.parents):
        if (folder / "kfp_config.ini").is_file():
            return folder
    return None
