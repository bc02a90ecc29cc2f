"""What an importer does with the URI it is given.

- A remote URI (s3://, gs://, ...) is referenced, as in Kubeflow: the tasks that read it fetch
  it. The server never serves it (it lies outside the artifact root).
- A local path inside the artifact root (an earlier task's output) is referenced as it is.
- A local path (or `file://` URI) anywhere else is copied into the artifact store when it is
  imported, so the run keeps its input however the original changes later, and the
  dashboard can serve it without reading outside the artifact root. At most
  `import_max_bytes` (FLOWYARD_IMPORT_MAX_BYTES) are copied.
- Flowyard's own files (its database, the secret key, anything under FLOWYARD_HOME that is
  not an artifact, logs of other runs included) are refused with a message that says so.

A copy is addressed by what it was copied from (path, inode, size, change times): importing an
unchanged file again reuses the copy, so `reimport=False` finds the artifact it made before,
and a copy once made is never written again.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from pathlib import Path

from flowyard.file_guard import FileGuard, RefusedPath, Scope
from flowyard.pipelines.context import RunContext
from flowyard.pipelines.errors import TaskError

IMPORTS = "_imports"


def bring_in(uri: str, ctx: RunContext, task_id: str, task_path: str) -> str:
    """The URI the imported artifact gets (see the module's docstring)."""
    if "://" in uri and not uri.startswith("file://"):
        return uri
    path = uri[len("file://"):] if uri.startswith("file://") else uri
    guard = FileGuard.current(ctx.settings, artifact_root=ctx.artifacts.root)
    try:
        if guard.inside_root(path):
            return guard.check(path)
        real = guard.check(path, scope="user")
    except RefusedPath as exc:
        raise TaskError(f"importer: {exc}. An importer may name your files or artifacts, "
                        "never Flowyard's own") from None
    if not os.path.lexists(real):
        raise TaskError(f"importer: {uri} does not exist (a local file is copied into the "
                        "artifact store when it is imported, so it must exist by then)")
    is_dir = os.path.isdir(real)
    try:
        entries = list(guard.walk(real, scope="user")) if is_dir else [("", real,
                                                                         os.stat(real).st_size)]
    except RefusedPath as exc:
        raise TaskError(f"importer: {exc}") from None
    limit = ctx.settings.import_max_bytes
    total = sum(size for _, _, size in entries)
    if total > limit:
        raise TaskError(_too_big(uri, total, limit))
    name = os.path.basename(real.rstrip("/")) or "artifact"
    target = ctx.artifacts.uri_for(IMPORTS, _identity(real, entries), name)
    if ctx.artifacts.exists(target):
        return target  # the same bytes, imported before
    if ctx.artifacts.is_local:
        _copy_in(guard, uri, entries, is_dir, target, limit)
    else:
        staged = str(ctx.task_dir(task_path) / "import" / name)
        shutil.rmtree(Path(staged).parent, ignore_errors=True)
        _copy_in(guard, uri, entries, is_dir, staged, limit)
        try:
            ctx.artifacts.upload(staged, target)
        finally:
            shutil.rmtree(Path(staged).parent, ignore_errors=True)
    ctx.store.add_event("Imported", f"copied {uri} ({total} bytes) into the artifact store at "
                        f"{target}", run_id=ctx.run_id, task_id=task_id)
    return target


def copy_custom_path(source: str, target: str, ctx: RunContext) -> None:
    """An output a component wrote to a path of its choosing, copied to its place in the
    store, through the same guard: the engine holds the database open, and must never open
    its files (a custom path of `flowyard.db` would drop SQLite's locks)."""
    guard = FileGuard.current(ctx.settings, artifact_root=ctx.artifacts.root)
    try:
        real = guard.check(source, scope="engine")
        if not os.path.lexists(real):
            raise TaskError(f"output artifact custom path {source} does not exist")
        is_dir = os.path.isdir(real)
        entries = (list(guard.walk(real, scope="engine")) if is_dir
                   else [("", real, os.stat(real).st_size)])
    except RefusedPath as exc:
        raise TaskError(f"output artifact custom path: {exc}") from None
    if os.path.isdir(target):
        shutil.rmtree(target)
    _copy_in(guard, source, entries, is_dir, target, None, "engine")


def _identity(real: str, entries: list[tuple[str, str, int]]) -> str:
    h = hashlib.sha256(real.encode())
    for rel, path, _ in entries:
        try:
            st = os.stat(path)
        except OSError:
            continue
        h.update(f"\0{rel}\0{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:"
                 f"{st.st_ctime_ns}".encode())
    return h.hexdigest()[:32]


def _too_big(uri: str, total: int, limit: int) -> str:
    return (f"importer: {uri} holds {total} bytes, more than the {limit} an import may copy "
            "into the artifact store; raise FLOWYARD_IMPORT_MAX_BYTES, or put the data in the "
            "artifact root (FLOWYARD_ARTIFACT_ROOT) and import it from there")


def _copy_in(guard: FileGuard, uri: str, entries: list[tuple[str, str, int]], is_dir: bool,
             target: str, limit: int | None, scope: Scope = "user") -> None:
    """Copy into a hidden sibling, then rename: a crash leaves no half-copied import."""
    tmp = f"{target}.partial-{uuid.uuid4().hex[:8]}"
    Path(tmp).parent.mkdir(parents=True, exist_ok=True)
    copied = 0
    try:
        if is_dir:
            os.mkdir(tmp)
        for rel, path, _ in entries:
            dest = os.path.join(tmp, rel) if is_dir else tmp
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            try:
                src = guard.open(path, scope)
            except RefusedPath as exc:
                raise TaskError(f"{uri}: {exc}") from None
            with src, open(dest, "xb") as out:
                # Sizes were checked up front; a file that grows while copied is caught here.
                while chunk := src.read(1 << 20):
                    copied += len(chunk)
                    if limit is not None and copied > limit:
                        raise TaskError(_too_big(uri, copied, limit))
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        try:
            os.replace(tmp, target)
        except OSError:
            if not os.path.exists(target):  # else: a concurrent import of the same bytes won
                raise
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
        elif os.path.lexists(tmp):
            os.unlink(tmp)
