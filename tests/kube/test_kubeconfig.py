"""`flowyard kubeconfig`: printed, written on its own, merged into an existing kubeconfig
without losing the contexts already there."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml


def _fy(*args: str) -> str:
    return subprocess.run([sys.executable, "-m", "flowyard.cli.main", *args],
                          capture_output=True, text=True, check=True).stdout


def test_print_and_merge(tmp_path: Path) -> None:
    printed = yaml.safe_load(_fy("kubeconfig", "--server", "http://127.0.0.1:9999"))
    assert printed["current-context"] == "flowyard"
    assert printed["clusters"][0]["cluster"]["server"] == "http://127.0.0.1:9999"
    target = tmp_path / "config"
    target.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "prod",
        "clusters": [{"name": "prod", "cluster": {"server": "https://prod:6443"}}],
        "users": [{"name": "prod", "user": {"token": "keep-me"}}],
        "contexts": [{"name": "prod", "context": {"cluster": "prod", "user": "prod"}}]}))
    for _ in range(2):  # twice: the flowyard entries are replaced, not duplicated
        _fy("kubeconfig", "--write", "--kubeconfig", str(target), "--server",
            "http://127.0.0.1:9999")
    merged = yaml.safe_load(target.read_text())
    assert [c["name"] for c in merged["contexts"]] == ["prod", "flowyard"]
    assert merged["users"][0]["user"]["token"] == "keep-me"
    assert merged["current-context"] == "flowyard"
    assert target.stat().st_mode & 0o777 == 0o600
    out = subprocess.run(["kubectl", "--kubeconfig", str(target), "config", "get-contexts",
                          "-o", "name"], capture_output=True, text=True)
    assert out.stdout.split() == ["flowyard", "prod"]
