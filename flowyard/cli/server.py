"""`flowyard up`: the API, the dashboard's backend, the scheduler, the controllers and the
local executor in one process."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

err = Console(stderr=True)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def up(
    host: Annotated[str, typer.Option(help="Address to listen on. Loopback by default: the API "
                                           "runs code, so expose it only on purpose")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8765,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
    allowed_host: Annotated[list[str] | None, typer.Option(
        "--allowed-host", help="A host name clients reach this server by, besides localhost "
        "and the listening address (repeatable; NAME or NAME:PORT; '*' for any). Also "
        "FLOWYARD_ALLOWED_HOSTS, comma-separated. Required with --host 0.0.0.0")] = None,
    keep_pods: Annotated[bool, typer.Option(
        "--keep-pods", help="On a clean stop leave pods running, for the next start to adopt "
                            "(FLOWYARD_KEEP_PODS=1)")] = False,
) -> None:
    """Serve the KFP API, the resources API and the dashboard; run runs and schedules.

    On start it resumes the runs a previous server left unfinished."""
    import uvicorn

    from flowyard.api.app import create_app
    from flowyard.api.hosts import HostConfigError, HostPolicy
    from flowyard.client import server_file
    from flowyard.config import settings
    from flowyard.executors import get_executor

    try:
        hosts = HostPolicy.build(host, allowed_host or ())
    except HostConfigError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    if keep_pods:
        os.environ["FLOWYARD_KEEP_PODS"] = "1"  # read by the kubelet when it stops
    if not _loopback(host):
        err.print(f"[yellow]warning:[/yellow] listening on {host}: the API has no "
                  "authentication, and anyone who reaches it can run code as this user")
    url_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    from flowyard.cli.home_lock import HomeInUse, hold

    try:
        lock = hold(settings().home, f"http://{url_host}:{port}")
    except HomeInUse as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(1) from None
    get_executor("local").warm_up()  # type: ignore[attr-defined]
    info = server_file()
    info.parent.mkdir(parents=True, exist_ok=True)
    info.write_text(json.dumps({"url": f"http://{url_host}:{port}", "pid": os.getpid()}))
    err.print(f"Flowyard {settings().home} serving on http://{url_host}:{port} "
              f"(KFP API at /apis/v2beta1, OpenAPI at /openapi.json)\n"
              "kubectl: export KUBECONFIG=$(flowyard kubeconfig --path)", highlight=False)
    from flowyard.ui import mount as mount_dashboard  # the dashboard at /, on the same port

    config = uvicorn.Config(mount_dashboard(create_app(hosts=hosts)), host=host, port=port,
                            log_level=log_level, timeout_graceful_shutdown=5, access_log=False)
    try:
        uvicorn.Server(config).run()
    finally:
        with contextlib.suppress(OSError, ValueError):
            if json.loads(info.read_text()).get("pid") == os.getpid():
                info.unlink()
        os.close(lock)
