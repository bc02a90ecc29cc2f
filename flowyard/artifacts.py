"""The artifact store: one fsspec root (a local folder by default, or s3://, gs://, ...).

Components read and write local files. With a local root the files live in the root itself;
with a remote root a task works in a local staging folder, inputs are downloaded before it
runs and outputs uploaded after it finished, so the store only ever holds complete files.

What the server serves (downloads, previews, visualization sources) is read through
`readable()`/`open_read()`/`files()`: only what lies inside the root, through the one
FileGuard (flowyard/file_guard.py) for local files."""

from __future__ import annotations

import glob
import os
import posixpath
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import fsspec
from fsspec.core import url_to_fs

from flowyard.file_guard import FileGuard, RefusedPath

_UNSAFE = re.compile(r"[^A-Za-z0-9._=\-\[\]]+")


class ArtifactPathError(ValueError):
    pass


def safe_segment(name: str) -> str:
    """A path segment that can never climb out of its parent."""
    seg = _UNSAFE.sub("_", name).strip(".")
    return seg or "_"


class ArtifactStore:
    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/") or "/"
        self.fs, self._root_path = url_to_fs(self.root)
        self.is_local = self.fs.protocol in ("file", "local") or (
            isinstance(self.fs.protocol, tuple) and "file" in self.fs.protocol
        )
        if self.is_local:
            Path(self._root_path).mkdir(parents=True, exist_ok=True)

    def uri_for(self, *segments: str) -> str:
        """The URI under the root for these segments; each is sanitised so no `..` or
        absolute piece can escape the root."""
        parts = [safe_segment(s) for s in segments]
        if self.is_local:
            return str(Path(self._root_path, *parts))
        return posixpath.join(self.root, *parts)

    def contains(self, uri: str) -> bool:
        if self.is_local:
            root = Path(self._root_path).resolve()
            try:
                Path(uri).resolve().relative_to(root)
            except ValueError:
                return False
            return True
        return uri.startswith(self.root + "/")

    def check_inside(self, uri: str) -> str:
        if not self.contains(uri):
            raise ArtifactPathError(f"artifact path {uri!r} is outside the artifact root {self.root!r}")
        return uri

    def exists(self, uri: str) -> bool:
        fs, path = url_to_fs(uri)
        return bool(fs.exists(path))

    def upload(self, local_path: str, uri: str) -> None:
        if self.is_local or not Path(local_path).exists():
            return
        self.fs.put(local_path, uri, recursive=Path(local_path).is_dir())

    def download(self, uri: str, local_path: str) -> None:
        fs, path = url_to_fs(uri)
        Path(local_path).parent.mkdir(parents=True, exist_ok=True)
        fs.get(path, local_path, recursive=fs.isdir(path))

    def open(self, uri: str, mode: str = "rb") -> Any:
        return fsspec.open(uri, mode).open()

    def remove(self, uri: str) -> None:
        fs, path = url_to_fs(uri)
        if fs.exists(path):
            fs.rm(path, recursive=True)

    # reads for serving: only what lies inside the root -------------------------------
    def guard(self) -> FileGuard:
        # Built per call: the settings (home, database) come from the environment.
        return FileGuard.current(artifact_root=self.root)

    def readable(self, uri: str) -> str:
        """The URI (a resolved path, for a local file) if it may be served; else RefusedPath."""
        if uri.startswith("file://"):
            uri = uri[len("file://"):]
        if "://" not in uri:
            return self.guard().check(uri)
        rest = uri[len(self.root):] if uri.startswith(self.root + "/") else None
        if self.is_local or rest is None or ".." in rest.split("/"):
            raise RefusedPath(f"Flowyard does not read {uri}: it is outside the artifact root "
                              f"({self.root})")
        return uri

    def open_read(self, uri: str) -> BinaryIO:
        uri = self.readable(uri)
        if "://" not in uri:
            return self.guard().open(uri)
        return self.fs.open(url_to_fs(uri)[1], "rb")  # type: ignore[no-any-return]

    def is_dir(self, uri: str) -> bool:
        uri = self.readable(uri)
        if "://" not in uri:
            return os.path.isdir(uri)
        return bool(self.fs.isdir(url_to_fs(uri)[1]))

    def exists_readable(self, uri: str) -> bool:
        uri = self.readable(uri)
        if "://" not in uri:
            return os.path.lexists(uri)
        return bool(self.fs.exists(url_to_fs(uri)[1]))

    def beside(self, uri: str) -> list[str]:
        """Files named `uri` plus an extension (components often write `model.path + ".npz"`)."""
        uri = self.readable(uri)
        if "://" not in uri:
            found = glob.glob(glob.escape(uri) + ".*")
        else:
            proto = uri.split("://", 1)[0]
            found = [f"{proto}://{f}" for f in self.fs.glob(url_to_fs(uri)[1] + ".*")]
        return [f for f in found if _servable(self, f)]

    def files(self, uri: str) -> Iterator[tuple[str, str, int]]:
        """(relative name, URI, size) of every file in a folder, in name order, lazily."""
        uri = self.readable(uri)
        if "://" not in uri:
            yield from self.guard().walk(uri)
            return
        proto, path = uri.split("://", 1)[0], url_to_fs(uri)[1].rstrip("/")
        for f, info in sorted(self.fs.find(path, detail=True).items()):
            if info.get("type") == "file":
                yield f[len(path):].lstrip("/"), f"{proto}://{f}", int(info.get("size") or 0)


def _servable(store: ArtifactStore, uri: str) -> bool:
    try:
        store.readable(uri)
    except RefusedPath:
        return False
    return True
