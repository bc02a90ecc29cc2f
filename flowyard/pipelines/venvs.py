"""Environments for `packages_to_install`: when the current environment lacks a component's
packages, they are installed once into a virtual environment layered on the current one
(`--system-site-packages`, so kfp and everything already here stay visible) and reused by
every task that asks for the same set."""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import json
import shutil
import sys
from pathlib import Path

from flowyard.pipelines.errors import TaskError


def _key(packages: list[str], index_urls: list[str]) -> str:
    blob = json.dumps([sorted(packages), index_urls, sys.version, sys.prefix])
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def site_packages(venv: Path) -> Path:
    return venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"


async def _run(argv: list[str], log: Path) -> tuple[int, str]:
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(*argv, stdout=out, stderr=out)
        try:
            code = await proc.wait()
        except asyncio.CancelledError:
            # A canceled run must not leave pip installing behind it.
            proc.kill()
            await asyncio.shield(proc.wait())
            raise
    lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    return code, (lines[-1] if lines else "")


async def ensure_venv(root: Path, packages: list[str], index_urls: list[str], log: Path) -> Path:
    """The ready venv for these packages, created on first use. Concurrent tasks asking for
    the same set wait for one installation; a half-built venv is never used."""
    venv = root / _key(packages, index_urls)
    if (venv / ".ready").exists():
        return venv
    root.mkdir(parents=True, exist_ok=True)
    lock = (root / f"{venv.name}.lock").open("w")
    try:
        await asyncio.to_thread(fcntl.flock, lock, fcntl.LOCK_EX)
        if (venv / ".ready").exists():
            return venv
        building = root / f"{venv.name}.building"
        shutil.rmtree(building, ignore_errors=True)
        with log.open("a") as f:
            f.write(f"flowyard: installing {' '.join(packages)} into a layered environment\n")
        code, last = await _run([sys.executable, "-m", "venv", "--system-site-packages",
                                 "--without-pip", str(building)], log)
        if code != 0:
            raise TaskError(f"could not create a virtual environment: {last}")
        pip = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check",
               "--no-warn-script-location", "--target", str(site_packages(building))]
        for i, url in enumerate(index_urls):
            pip += ["--index-url" if i == 0 else "--extra-index-url", url]
        code, last = await _run([*pip, *packages], log)
        if code != 0:
            shutil.rmtree(building, ignore_errors=True)
            raise TaskError(f"packages_to_install could not be installed ({', '.join(packages)}):"
                            f" {last}")
        (building / ".ready").touch()
        building.rename(venv)
        return venv
    finally:
        lock.close()
