"""Artifacts for the dashboard: browse by type and run, read a bounded preview of the bytes,
open the file for download, and lineage (the task that produced an artifact and the tasks
that consumed it, found in the consumers' recorded inputs)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any, BinaryIO

from sqlalchemy import String, cast, select

from flowyard.artifacts import ArtifactStore
from flowyard.config import settings
from flowyard.file_guard import RefusedPath
from flowyard.services import run_metrics
from flowyard.services.context import Services
from flowyard.services.errors import Forbidden, NotFound
from flowyard.services.zip_stream import zip_chunks
from flowyard.store.query import Page, Predicate, list_page
from flowyard.store.schema import Artifact, Run, Task

PREVIEW_BYTES = 200_000
_COLUMNS = {"created_at": Artifact.created_at, "schema_title": Artifact.schema_title,
            "run_id": Artifact.run_id, "name": Artifact.name, "id": Artifact.id}
IMAGE_TYPES = {b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg", b"GIF8": "image/gif"}


def _art(a: Artifact) -> dict[str, Any]:
    return {"id": a.id, "name": a.name, "type": a.schema_title, "uri": a.uri,
            "metadata": a.metadata_ or {}, "run_id": a.run_id, "task_id": a.task_id,
            "created_at": a.created_at}


def artifacts_page(svc: Services, *, schema_title: str | None = None, run_id: str | None = None,
                   search: str | None = None, page: int = 0, size: int = 25) -> dict[str, Any]:
    preds = []
    if schema_title:
        preds.append(Predicate("schema_title", "EQUALS", schema_title))
    if run_id:
        preds.append(Predicate("run_id", "EQUALS", run_id))
    if search:
        preds.append(Predicate("name", "IS_SUBSTRING", search))
    rows, total = list_page(svc.store, Artifact, _COLUMNS,
                            Page(preds, "created_at", True, page * size, size))
    run_names: dict[str, str] = {}
    producers: dict[str, tuple[str, str]] = {}
    ids = {r.run_id for r in rows if r.run_id}
    task_ids = {r.task_id for r in rows if r.task_id}
    with svc.store.session() as s:
        if ids:
            run_names = dict(s.execute(select(Run.id, Run.display_name).where(Run.id.in_(ids))).all())
        if task_ids:
            producers = {i: (n, p) for i, n, p in s.execute(
                select(Task.id, Task.name, Task.path).where(Task.id.in_(task_ids)))}
    out = []
    for r in rows:
        d = _art(r)
        d["run_name"] = run_names.get(r.run_id or "", "")
        # Which task made it, and in which loop iteration: two iterations of `train` each
        # write a `model`, and the list must tell them apart.
        name, path = producers.get(r.task_id or "", ("", ""))
        d["producer"] = name
        d["producer_path"] = path
        d["iteration"] = run_metrics.iterations(path)
        out.append(d)
    return {"artifacts": out, "total": total, "page": page, "size": size}


def artifact_types(svc: Services) -> list[str]:
    with svc.store.session() as s:
        return list(s.scalars(select(Artifact.schema_title).distinct()
                              .order_by(Artifact.schema_title)))


def get(svc: Services, artifact_id: str) -> dict[str, Any]:
    with svc.store.session() as s:
        row = s.get(Artifact, artifact_id)
    if row is None:
        raise NotFound(f"no artifact {artifact_id}")
    return _art(row)


def _consumes(task: Task, artifact_id: str, uri: str) -> list[str]:
    """The input names under which `task` received the artifact."""
    names = []
    for name, arts in ((task.inputs or {}).get("artifacts") or {}).items():
        for a in arts or []:
            if a.get("artifactId") == artifact_id or a.get("uri") == uri:
                names.append(name)
                break
    return names


def lineage(svc: Services, artifact_id: str) -> dict[str, Any]:
    art = get(svc, artifact_id)
    with svc.store.session() as s:
        producer = s.get(Task, art["task_id"]) if art["task_id"] else None
        # Inputs are JSON; a text match narrows the scan, _consumes() then checks precisely.
        candidates = s.scalars(select(Task).where(
            cast(Task.inputs, String).contains(art["uri"], autoescape=True)).limit(500)).all()
        run_names = dict(s.execute(select(Run.id, Run.display_name).where(
            Run.id.in_({t.run_id for t in candidates} | {art["run_id"] or ""}))).all())
    consumers = []
    for t in candidates:
        # Sub-DAGs and loops pass artifacts through; the executing tasks are the consumers.
        if t.kind not in ("container", "importer"):
            continue
        inputs = _consumes(t, artifact_id, art["uri"])
        if inputs:
            consumers.append({"task_id": t.id, "name": t.name, "path": t.path, "run_id": t.run_id,
                              "run_name": run_names.get(t.run_id, ""), "inputs": inputs,
                              "state": t.state})
    prod = ({"task_id": producer.id, "name": producer.name, "path": producer.path,
             "run_id": producer.run_id, "state": producer.state,
             "run_name": run_names.get(producer.run_id, "")} if producer else None)
    return {"artifact": art, "producer": prod, "consumers": consumers}


def _store() -> ArtifactStore:
    return ArtifactStore(settings().artifact_root)


def read_bytes(uri: str, limit: int = PREVIEW_BYTES) -> tuple[bytes, bool]:
    """Up to `limit` bytes of the artifact's file (or its single file, for a folder) and
    whether there was more. Raises RefusedPath for what lies outside the artifact root."""
    store = _store()
    if not store.exists_readable(uri):
        near = store.beside(uri)
        if len(near) != 1:
            return b"", False
        uri = near[0]
    if store.is_dir(uri):
        files = []
        for rel, path, _ in store.files(uri):
            files.append((rel, path))
            if len(files) > 200:
                break
        if len(files) != 1:
            listing = "\n".join(rel for rel, _ in files[:200])
            return listing.encode(), len(files) > 200
        uri = files[0][1]
    with store.open_read(uri) as f:
        data = f.read(limit + 1)
    return data[:limit], len(data) > limit


def preview(uri: str, type_: str = "", name: str = "") -> dict[str, Any]:
    """What the UI shows for an artifact's content: `kind` is one of image, csv, json,
    text, binary, missing, refused; `ui_metadata` is set for a v1 mlpipeline-ui-metadata file."""
    try:
        data, truncated = read_bytes(uri)
    except RefusedPath as exc:
        return {"kind": "refused", "reason": str(exc), "truncated": False}
    if not data:
        return {"kind": "missing", "truncated": False}
    for magic, mime in IMAGE_TYPES.items():
        if data.startswith(magic):
            return {"kind": "image", "mime": mime, "truncated": truncated}
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return {"kind": "binary", "size": len(data), "truncated": truncated}
    out: dict[str, Any] = {"kind": "text", "text": text, "truncated": truncated}
    stripped = text.lstrip()
    if stripped[:1] in "{[":
        try:
            doc = json.loads(text)
            out.update(kind="json", json=doc)
            if isinstance(doc, dict) and isinstance(doc.get("outputs"), list) and (
                    "ui-metadata" in name or all(isinstance(o, dict) and "type" in o
                                                 for o in doc["outputs"])):
                out["ui_metadata"] = doc["outputs"]
        except ValueError:
            pass
    elif uri.endswith((".csv", ".tsv")) or _looks_csv(text):
        out.update(kind="csv", rows=parse_csv(text)[:200])
    return out


def _looks_csv(text: str) -> bool:
    lines = [ln for ln in text.splitlines()[:5] if ln.strip()]
    return len(lines) >= 2 and all(ln.count(",") == lines[0].count(",") > 0 for ln in lines)


def parse_csv(text: str) -> list[list[str]]:
    return [row for row in csv.reader(io.StringIO(text)) if row]


def read_source(source: str, storage: str = "") -> str:
    """A v1 visualization's `source`: inline text, or a path/URI inside the artifact root to
    read (bounded). Raises RefusedPath for anything else (`source: /etc/passwd`)."""
    if storage == "inline":
        return source
    data, _ = read_bytes(source)
    return data.decode(errors="replace")


@dataclass
class Download:
    name: str
    chunks: Iterator[bytes]
    media_type: str
    is_zip: bool


def _file_chunks(f: BinaryIO) -> Iterator[bytes]:
    with f:
        while chunk := f.read(1 << 16):
            yield chunk


def open_for_download(svc: Services, artifact_id: str) -> Download:
    """The artifact's bytes, lazily: a file as it is, a folder as a zip built while it is
    sent. Raises NotFound, or Forbidden for a URI outside the artifact root."""
    art = get(svc, artifact_id)
    store = _store()
    try:
        if not store.exists_readable(art["uri"]):
            raise NotFound(f"artifact {artifact_id}: {art['uri']} no longer exists")
        if store.is_dir(art["uri"]):
            entries = ((rel, partial(store.open_read, uri), size)
                       for rel, uri, size in store.files(art["uri"]))
            return Download(f"{art['name']}.zip", zip_chunks(entries, RefusedPath),
                            "application/zip", True)
        f = store.open_read(art["uri"])
    except RefusedPath as exc:
        raise Forbidden(f"artifact {artifact_id}: {exc}") from None
    return Download(art["name"], _file_chunks(f), "application/octet-stream", False)
