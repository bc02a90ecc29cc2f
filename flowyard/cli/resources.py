"""`flowyard apply|get|describe|delete|wait|logs` for Kubeflow-shaped objects, as kubectl
does them, through flowyard.Client (a running server, else in-process)."""

from __future__ import annotations

import functools
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.table import Table

console = Console()
err = Console(stderr=True)
NS = Annotated[str, typer.Option("-n", "--namespace", help="Namespace")]


def _client() -> Any:
    from flowyard.client import Client

    return Client()


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(1)


def read_documents(sources: list[str]) -> list[tuple[str, Any]]:
    """(where, document) for every YAML/JSON document in files, folders or stdin ("-")."""
    out: list[tuple[str, Any]] = []
    for src in sources:
        if src == "-":
            files: list[tuple[str, str]] = [("<stdin>", sys.stdin.read())]
        else:
            path = Path(src)
            if path.is_dir():
                paths = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml", ".json"))
            elif path.exists():
                paths = [path]
            else:
                raise _fail(f"{src}: no such file or directory")
            files = [(str(p), p.read_text()) for p in paths]
        for where, text in files:
            try:
                docs = [d for d in yaml.safe_load_all(text) if d is not None]
            except yaml.YAMLError as exc:
                raise _fail(f"{where}: invalid YAML: {exc}") from None
            for doc in docs:
                items = doc.get("items") if isinstance(doc, dict) and str(
                    doc.get("kind", "")).endswith("List") else None
                out.extend((where, d) for d in (items if isinstance(items, list) else [doc]))
    return out


def _ref(obj: dict[str, Any]) -> str:
    from flowyard.resources.kinds import kind_for

    info = kind_for(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
    name = (obj.get("metadata") or {}).get("name", "")
    return f"{info.kind.lower()}.{info.group}/{name}" if info.group else f"{info.kind.lower()}/{name}"


def apply(
    filename: Annotated[list[str], typer.Option("-f", "--filename",
                                                help="File, folder or - for stdin")],
    namespace: NS = "default",
) -> None:
    """Create or update objects from YAML (several documents per file are fine)."""
    from flowyard.client import ApiError

    client = _client()
    failed = False
    for where, doc in read_documents(filename):
        try:
            action, obj = client.apply(doc, namespace)
            console.print(f"{_ref(obj)} {action}", highlight=False)
        except ApiError as exc:
            failed = True
            label = _ref(doc) if isinstance(doc, dict) else where
            err.print(f"[red]error:[/red] {where}: {label}: {exc.message}", highlight=False)
    if failed:
        raise typer.Exit(1)


def _age(stamp: str | None) -> str:
    if not stamp:
        return ""
    secs = (datetime.now(UTC) - datetime.fromisoformat(stamp.replace("Z", "+00:00"))
            ).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size:
            return f"{int(secs // size)}{unit}"
    return f"{int(secs)}s"


def status_word(obj: dict[str, Any]) -> str:
    status = obj.get("status") or {}
    if status.get("phase"):
        return str(status["phase"])
    true = [c.get("type", "") for c in status.get("conditions") or [] if isinstance(c, dict)
            and str(c.get("status")).lower() == "true"]
    return true[-1] if true else ""


def get(
    kind: Annotated[str, typer.Argument(help="Kind, plural or short name (tfjob, isvc, ...)")],
    name: Annotated[str, typer.Argument()] = "",
    output: Annotated[str, typer.Option("-o", "--output", help="yaml, json or wide")] = "",
    namespace: NS = "default",
    selector: Annotated[str, typer.Option("-l", "--selector", help="Label selector")] = "",
    all_namespaces: Annotated[bool, typer.Option("-A", "--all-namespaces")] = False,
) -> None:
    """List objects of a kind, or show one."""
    from flowyard.client import ApiError

    if all_namespaces and name:
        raise _fail("-A lists objects; give no NAME with it")
    try:
        got = _client().get(kind, name, "" if all_namespaces else namespace, selector or None)
    except ApiError as exc:
        raise _fail(exc.message) from None
    if output in ("yaml", "json"):
        text = (yaml.safe_dump(got, sort_keys=False) if output == "yaml"
                else json.dumps(got, indent=2))
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    if output not in ("", "wide"):
        raise _fail(f"-o {output}: expected yaml, json or wide")
    items = [got] if name else got.get("items", [])
    if not items:
        err.print(f"No resources found in {namespace} namespace.")
        return
    cols = (["NAMESPACE"] if all_namespaces else []) + ["NAME", "STATUS", "AGE"] + (
        ["GENERATION", "VERSION", "LABELS"] if output else [])
    table = Table(*cols, box=None, pad_edge=False)
    for obj in items:
        meta = obj.get("metadata", {})
        row = ([meta.get("namespace", "")] if all_namespaces else []) + [
            meta.get("name", ""), status_word(obj), _age(meta.get("creationTimestamp"))]
        if output:
            row += [str(meta.get("generation", "")), str(meta.get("resourceVersion", "")),
                    ",".join(f"{k}={v}" for k, v in (meta.get("labels") or {}).items())]
        table.add_row(*row)
    console.print(table)


def describe(kind: str, name: str, namespace: NS = "default") -> None:
    """An object's spec, status, conditions and events."""
    from flowyard.client import ApiError

    client = _client()
    try:
        obj = client.get(kind, name, namespace)
        events = client.events(kind, name, namespace)
    except ApiError as exc:
        raise _fail(exc.message) from None
    meta = obj.get("metadata", {})
    console.print(f"Name:         {meta.get('name')}", highlight=False)
    if meta.get("namespace"):
        console.print(f"Namespace:    {meta.get('namespace')}", highlight=False)
    console.print(f"API Version:  {obj.get('apiVersion')}\nKind:         {obj.get('kind')}",
                  highlight=False)
    console.print(f"Labels:       {meta.get('labels') or '<none>'}", highlight=False)
    console.print(f"Created:      {meta.get('creationTimestamp')}  (resourceVersion "
                  f"{meta.get('resourceVersion')}, generation {meta.get('generation')})",
                  highlight=False)
    for section in ("spec", "status"):
        if obj.get(section):
            console.print(f"{section.capitalize()}:")
            body = {k: v for k, v in obj[section].items() if k != "conditions"}
            console.print(yaml.safe_dump(body, sort_keys=False).rstrip().replace("\n", "\n  ")
                          .join(("  ", "")), highlight=False)
    conditions = (obj.get("status") or {}).get("conditions") or []
    if conditions:
        table = Table("TYPE", "STATUS", "REASON", "MESSAGE", title="Conditions", box=None)
        for c in conditions:
            table.add_row(*(str(c.get(k, "")) for k in ("type", "status", "reason", "message")))
        console.print(table)
    if events:
        table = Table("TYPE", "REASON", "AGE", "MESSAGE", title="Events", box=None)
        for e in events:
            table.add_row(e.get("type", ""), e.get("reason", ""), _age(e.get("eventTime")),
                          e.get("message", ""))
        console.print(table)
    else:
        console.print("Events:       <none>")


def delete(kind: str, name: str, namespace: NS = "default") -> None:
    """Delete an object (its controller, if any, cleans up what it made)."""
    from flowyard.client import ApiError

    client = _client()
    try:
        info = client.kind(kind)
        client.delete(kind, name, namespace)
    except ApiError as exc:
        raise _fail(exc.message) from None
    console.print(f"{info.kind.lower()}{'.' + info.group if info.group else ''}/{name} deleted",
                  highlight=False)


def wait(
    kind: str, name: str,
    for_: Annotated[str, typer.Option("--for", help="condition=TYPE, or delete")],
    namespace: NS = "default",
    timeout: Annotated[float, typer.Option(help="Seconds before giving up")] = 300.0,
) -> None:
    """Block until an object's condition is True (or it is deleted)."""
    from flowyard.client import ApiError

    cond = for_.removeprefix("condition=") if for_ != "delete" else "delete"
    if not cond:
        raise _fail("--for: expected condition=TYPE or delete")
    started = time.monotonic()
    try:
        _client().wait(kind, name, cond, namespace, timeout)
    except TimeoutError as exc:
        raise _fail(str(exc)) from None
    except ApiError as exc:
        raise _fail(exc.message) from None
    console.print(f"{kind}/{name} condition met ({cond}) after "
                  f"{time.monotonic() - started:.1f}s", highlight=False)


def resource_logs(kind: str, name: str, namespace: str = "default") -> None:
    from flowyard.client import ApiError

    try:
        sys.stdout.write(_client().logs(kind, name, namespace))
    except ApiError as exc:
        raise _fail(exc.message) from None


def register(app: typer.Typer) -> None:
    """Add `up` and the resource commands to the `flowyard` app. `flowyard logs KIND NAME` shares the
    `logs` command with runs: a first argument that names a kind means an object's logs."""
    from flowyard.cli.server import up
    from flowyard.resources.kinds import lookup

    app.command()(up)
    app.command()(apply)
    app.command()(get)
    app.command()(describe)
    app.command()(delete)
    app.command()(wait)
    for info in app.registered_commands:
        if info.name == "logs" or (info.name is None and info.callback is not None
                                   and info.callback.__name__ == "logs"):
            original = info.callback
            assert original is not None

            @functools.wraps(original)
            def logs(*args: Any, __original: Any = original, **kwargs: Any) -> Any:
                first = kwargs.get("run_id", args[0] if args else "")
                second = kwargs.get("task", args[1] if len(args) > 1 else "")
                if first and second and lookup(first):
                    return resource_logs(first, second)
                return __original(*args, **kwargs)

            info.callback = logs
