"""The artifact store: one fsspec root (a local folder by default, or s3://, gs://, ...).

Components read and write local files. With a local root the files live in the root itself;
with a remote root a task works in a local staging folder, inputs are downloaded before it
runs and outputs uploaded after it finished, so the store only ever holds complete files."""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Any

import fsspec
from fsspec.core import url_to_fs

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
