"""`flowyard kubeconfig`: a kubeconfig for the running `flowyard up`, so kubectl and the
kubernetes client talk to it unchanged. Printed, written to its own file (`--path`, for
`export KUBECONFIG=$(flowyard kubeconfig --path)`), or merged into ~/.kube/config (`--write`)
as the context `flowyard`."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

CONTEXT = "flowyard"
DEFAULT_URL = "http://127.0.0.1:8765"


def config_for(server: str, namespace: str = "default") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": [{"name": CONTEXT, "cluster": {"server": server}}],
            "users": [{"name": CONTEXT, "user": {}}],
            "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": CONTEXT,
                                                       "namespace": namespace}}],
            "current-context": CONTEXT}


def merge(existing: dict[str, Any], ours: dict[str, Any], use: bool = True) -> dict[str, Any]:
    """`existing` with our cluster, user and context added (replacing ones of that name)."""
    out = dict(existing or {})
    out.setdefault("apiVersion", "v1")
    out.setdefault("kind", "Config")
    for section in ("clusters", "users", "contexts"):
        kept = [e for e in out.get(section) or [] if e.get("name") != CONTEXT]
        out[section] = kept + ours[section]
    if use or not out.get("current-context"):
        out["current-context"] = CONTEXT
    return out


def _write(path: Path, config: dict[str, Any]) -> None:
    """Atomically, readable only by this user (a kubeconfig may hold other clusters' keys)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".kubeconfig-")
    try:
        with os.fdopen(fd, "w") as f:
            yaml.safe_dump(config, f, sort_keys=False)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _server_url() -> str:
    from flowyard.client import running_server_url

    return running_server_url() or os.environ.get("FLOWYARD_URL") or DEFAULT_URL


def kubeconfig(
    write: Annotated[bool, typer.Option("--write", help="Merge the flowyard context into "
                                        "FILE (default ~/.kube/config) and make it current")
                     ] = False,
    path: Annotated[bool, typer.Option("--path", help="Write a kubeconfig of its own under "
                                       "FLOWYARD_HOME and print its path")] = False,
    file: Annotated[str, typer.Option("--kubeconfig", help="The kubeconfig --write merges "
                                      "into")] = "",
    server: Annotated[str, typer.Option(help="API URL (default: the running flowyard up)")
                      ] = "",
    namespace: Annotated[str, typer.Option("-n", "--namespace", help="Default namespace")
                         ] = "default",
) -> None:
    """Print (or write) a kubeconfig for kubectl and the kubernetes client."""
    from flowyard.config import settings

    ours = config_for(server or _server_url(), namespace)
    if path:
        target = settings().home / "kubeconfig"
        _write(target, ours)
        typer.echo(str(target))
        return
    if write:
        target = Path(file).expanduser() if file else Path.home() / ".kube" / "config"
        existing = yaml.safe_load(target.read_text()) if target.exists() else {}
        if existing is not None and not isinstance(existing, dict):
            raise typer.BadParameter(f"{target} is not a kubeconfig (not a mapping)")
        _write(target, merge(existing or {}, ours))
        typer.echo(f"context {CONTEXT!r} written to {target} and made current "
                   f"(kubectl config use-context {CONTEXT})")
        return
    typer.echo(yaml.safe_dump(ours, sort_keys=False), nl=False)


def register(app: typer.Typer) -> None:
    app.command()(kubeconfig)
