"""The one gate for every read of a local path that a user, a pipeline or a component named:
an artifact's URI, a v1 visualization's `source`, an importer's `file://` URI, an output's
custom path. Anything served or copied goes through `FileGuard.open()` or `FileGuard.walk()`.

What it refuses, and why:
- anything outside the artifact root, after resolving symlinks (`/etc/passwd`, a symlink in
  an output folder that points at `~/.ssh`);
- anything under $FLOWYARD_HOME that is not inside the artifact root (the secret key, logs of
  other runs, scratch folders, the server's files);
- the database files (db, -wal, -shm, -journal) and the secret key wherever they are, compared
  by device and inode, so a hard link to them inside the artifact root is refused too.

The database files are never opened, not even to be refused: POSIX advisory locks belong to
the process, and closing *any* descriptor of a file drops all of that process's locks on it.
One open/close of `flowyard.db` by the server silently broke SQLite's locking and lost
committed writes. So the check is done on an O_PATH descriptor (Linux), whose close releases
no lock, and only a file that passed is opened for reading, through that same descriptor.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from flowyard.config import Settings, settings

DB_SUFFIXES = ("", "-wal", "-shm", "-journal")
_HAVE_O_PATH = hasattr(os, "O_PATH") and Path("/proc/self/fd").is_dir()

# What a read may reach: "root" for what is served (the artifact root only); "user" for an
# importer's copy (any file of the user's, but nothing of Flowyard's under FLOWYARD_HOME);
# "engine" for the engine's own copies (anything but the database and key files).
Scope = Literal["root", "user", "engine"]


class RefusedPath(PermissionError):
    """A path Flowyard will not read; the message says which path and why."""


def database_files(database_url: str) -> list[Path]:
    """The files SQLite keeps for this database URL (none for PostgreSQL or :memory:)."""
    if not database_url.startswith("sqlite"):
        return []
    from sqlalchemy.engine import make_url

    db = make_url(database_url).database
    if not db or db == ":memory:" or db.startswith("file:"):
        return []
    base = os.path.realpath(os.path.expanduser(db))
    return [Path(base + suffix) for suffix in DB_SUFFIXES]


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


@dataclass(frozen=True)
class FileGuard:
    """`root` is the resolved local artifact root, or None when the root is remote (then no
    local file is servable: every artifact lives in the remote store)."""

    root: str | None
    home: str
    protected: tuple[Path, ...]

    @classmethod
    def current(cls, cfg: Settings | None = None, artifact_root: str | None = None) -> FileGuard:
        """The guard for this home's settings (and `artifact_root`, if not the configured one)."""
        cfg = cfg or settings()
        root: str | None = artifact_root or cfg.artifact_root
        if "://" in root and not root.startswith("file://"):
            root = None
        elif root.startswith("file://"):
            root = root[len("file://"):]
        home = os.path.realpath(cfg.home)
        protected = (*database_files(cfg.database_url), Path(home, "secret.key"))
        return cls(os.path.realpath(root) if root else None, home, protected)

    # checks ------------------------------------------------------------------------
    def why_refused(self, real: str, st: os.stat_result | None = None,
                    scope: Scope = "root") -> str | None:
        """Why the resolved path `real` (with its lstat, if known) may not be read."""
        for p in self.protected:
            if real == str(p):
                return "it is one of Flowyard's database or key files"
        if st is not None:
            for p in self.protected:
                try:
                    other = os.stat(p)  # stat opens nothing: no lock is touched
                except OSError:
                    continue
                if (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino):
                    return "it is (a link to) one of Flowyard's database or key files"
        if scope == "engine":
            return None
        in_root = self.root is not None and _inside(real, self.root)
        if _inside(real, self.home) and not in_root:
            return f"it is under FLOWYARD_HOME ({self.home}) and not an artifact"
        if in_root and _inside(real, self.home) and _inside(self.home, self.root or ""):
            return (f"it is under FLOWYARD_HOME ({self.home}), and the artifact root "
                    f"({self.root}) holds that whole folder; give the artifact root a folder "
                    "of its own (FLOWYARD_ARTIFACT_ROOT)")
        if scope == "root" and self.root is None:
            return "the artifact root is remote, so no local file is an artifact"
        if scope == "root" and not in_root:
            return f"it is outside the artifact root ({self.root})"
        return None

    def inside_root(self, path: str | os.PathLike[str]) -> bool:
        return self.root is not None and _inside(os.path.realpath(path), self.root)

    def check(self, path: str | os.PathLike[str], scope: Scope = "root") -> str:
        """The resolved path, if it may be read; else RefusedPath naming it and why."""
        real = os.path.realpath(path)
        try:
            st: os.stat_result | None = os.lstat(real)
        except OSError:
            st = None
        why = self.why_refused(real, st, scope)
        if why:
            raise RefusedPath(f"Flowyard does not read {os.fspath(path)}: {why}")
        return real

    # reads -------------------------------------------------------------------------
    def open(self, path: str | os.PathLike[str], scope: Scope = "root") -> BinaryIO:
        """Open a regular file for reading, after the checks, without a window in which a
        swapped symlink or hard link could make it open something else."""
        real = self.check(path, scope)
        if not _HAVE_O_PATH:
            return self._open_portable(path, real)
        pfd = os.open(real, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            # What the descriptor really names, whatever happened to the path since check().
            where = os.readlink(f"/proc/self/fd/{pfd}")
            st = os.fstat(pfd)
            why = self.why_refused(where, st, scope) or _not_regular(st)
            if why:
                raise RefusedPath(f"Flowyard does not read {os.fspath(path)}: {why}")
            fd = os.open(f"/proc/self/fd/{pfd}", os.O_RDONLY | os.O_CLOEXEC)
        finally:
            os.close(pfd)
        return os.fdopen(fd, "rb")

    def _open_portable(self, path: str | os.PathLike[str], real: str) -> BinaryIO:
        st = os.lstat(real)
        why = _not_regular(st)
        if why:
            raise RefusedPath(f"Flowyard does not read {os.fspath(path)}: {why}")
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        now = os.fstat(fd)
        if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
            os.close(fd)
            raise RefusedPath(f"Flowyard does not read {os.fspath(path)}: it changed while being opened")
        return os.fdopen(fd, "rb")

    def walk(self, folder: str | os.PathLike[str], scope: Scope = "root"
             ) -> Iterator[tuple[str, str, int]]:
        """(path relative to `folder`, path, size) of every file under a folder, in name
        order, lazily: each directory is read only when the walk reaches it. Symlinked folders
        are not followed; a file that may not be read is refused when opened."""
        yield from self._walk(self.check(folder, scope), "")

    def _walk(self, top: str, rel_dir: str) -> Iterator[tuple[str, str, int]]:
        try:
            with os.scandir(os.path.join(top, rel_dir)) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            return
        for e in entries:
            rel = f"{rel_dir}/{e.name}" if rel_dir else e.name
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                yield from self._walk(top, rel)
            else:
                yield rel, e.path, st.st_size



def _not_regular(st: os.stat_result) -> str | None:
    if stat.S_ISREG(st.st_mode):
        return None
    # A FIFO would block the reader forever; a device or socket is no artifact.
    return "it is not a regular file"
