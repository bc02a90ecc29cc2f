"""`flowyard secrets|configmaps|volumes`: what Kubernetes Secrets, ConfigMaps and PVCs are
on one machine. Secret values are read from the command line or files and never printed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

console = Console()
MAX_SIZE = 1024 * 1024


def _checked_key(key: str, option: str) -> str:
    from flowyard.store.secrets import key_problems

    problems = key_problems(key)
    if problems:
        # Keys become file names when mounted as a volume: nothing may walk out of it.
        raise typer.BadParameter(f"{option}: key {key!r}: {'; '.join(problems)}")
    return key


def _pairs(literals: list[str], files: list[str]) -> dict[str, str]:
    data: dict[str, str] = {}
    for item in literals:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"--from-literal {key!r}...: expected KEY=VALUE")
        data[_checked_key(key, "--from-literal")] = value
    for item in files:
        key, sep, path = item.partition("=")
        if not sep:
            key, path = Path(item).name, item
        _checked_key(key, "--from-file")
        try:
            if Path(path).stat().st_size > MAX_SIZE:
                raise typer.BadParameter(f"--from-file {path}: larger than {MAX_SIZE} bytes, "
                                         "Kubernetes' limit for a Secret or ConfigMap")
            data[key] = Path(path).read_text()
        except OSError as exc:
            raise typer.BadParameter(f"--from-file {path}: {exc.strerror}") from exc
        except UnicodeDecodeError:
            raise typer.BadParameter(f"--from-file {path}: not UTF-8 text") from None
    if not data:
        raise typer.BadParameter("give at least one --from-literal KEY=VALUE or --from-file")
    return data


def _kv_app(kind: str, noun: str) -> typer.Typer:
    app = typer.Typer(help=f"Kubernetes {kind}s, kept in Flowyard's store.", no_args_is_help=True)

    def store():  # type: ignore[no-untyped-def]
        from flowyard.store import open_store
        from flowyard.store.secrets import SecretStore

        return SecretStore(open_store())

    @app.command("create")
    def create(
        name: str,
        from_literal: Annotated[list[str], typer.Option("--from-literal")] = [],  # noqa: B006
        from_file: Annotated[list[str], typer.Option("--from-file")] = [],  # noqa: B006
    ) -> None:
        """Create or replace NAME with the given keys."""
        from flowyard.store.volumes import check_name

        try:
            check_name(name)
        except ValueError as exc:
            raise typer.BadParameter(str(exc).replace("volume", noun)) from exc
        data = _pairs(from_literal, from_file)
        store().put(name, data, kind=kind)
        console.print(f"{noun} {name} stored with keys: {', '.join(sorted(data))}")

    @app.command("list")
    def list_() -> None:
        """Names and keys (values are never shown)."""
        table = Table("NAME", "KEYS")
        for name, keys in store().names(kind=kind):
            table.add_row(name, ", ".join(keys))
        console.print(table)

    @app.command("delete")
    def delete(name: str) -> None:
        if not store().delete(name, kind=kind):
            console.print(f"[red]no {noun} {name}[/red]")
            raise typer.Exit(1)
        console.print(f"{noun} {name} deleted")

    return app


secrets_app = _kv_app("Secret", "secret")
configmaps_app = _kv_app("ConfigMap", "configmap")
volumes_app = typer.Typer(help="Named local volumes (what a PVC is on one machine).",
                          no_args_is_help=True)


def _volumes():  # type: ignore[no-untyped-def]
    from flowyard.store import open_store
    from flowyard.store.volumes import VolumeStore

    return VolumeStore(open_store())


@volumes_app.command("create")
def volume_create(name: str, size: Annotated[str, typer.Option(help="Recorded, not enforced")] = ""
                  ) -> None:
    try:
        vol = _volumes().create(name, size)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    console.print(f"volume {vol.name} at {vol.path}")


@volumes_app.command("list")
def volume_list() -> None:
    table = Table("NAME", "SIZE", "PATH", "CREATED")
    for v in _volumes().list():
        table.add_row(v.name, v.size, v.path, v.created_at.strftime("%Y-%m-%d %H:%M:%S"))
    console.print(table)


@volumes_app.command("delete")
def volume_delete(name: str) -> None:
    """Delete the volume and everything in it."""
    if not _volumes().delete(name):
        console.print(f"[red]no volume {name}[/red]")
        raise typer.Exit(1)
    console.print(f"volume {name} deleted")
