"""FileGuard: the one gate every read of a user-named local path goes through. Real files,
symlinks, hard links and FIFOs; the database files are compared by inode and never opened."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from flowyard.config import settings
from flowyard.file_guard import FileGuard, RefusedPath, database_files
from flowyard.store import open_store


@pytest.fixture
def guard(fy_home: Path) -> FileGuard:
    open_store()  # the database exists, with its -wal and -shm
    (fy_home / "secret.key").write_text("k")
    (fy_home / "artifacts").mkdir(parents=True, exist_ok=True)
    return FileGuard.current()


def _can_write_from_another_process(db: Path) -> bool:
    code = ("import sqlite3, sys\n"
            f"c = sqlite3.connect({str(db)!r}, timeout=0, isolation_level=None)\n"
            "try:\n    c.execute('BEGIN IMMEDIATE')\nexcept sqlite3.OperationalError:\n"
            "    sys.exit(3)\nc.execute('ROLLBACK')\n")
    return subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_database_files_are_the_sqlite_set(fy_home: Path) -> None:
    names = [p.name for p in database_files(settings().database_url)]
    assert names == ["flowyard.db", "flowyard.db-wal", "flowyard.db-shm", "flowyard.db-journal"]
    assert database_files("postgresql://u@h/db") == [] and database_files("sqlite://") == []


def test_inside_the_root_is_read(guard: FileGuard, fy_home: Path) -> None:
    f = fy_home / "artifacts" / "run" / "out.txt"
    f.parent.mkdir(parents=True)
    f.write_text("ok")
    with guard.open(f) as fh:
        assert fh.read() == b"ok"


@pytest.mark.parametrize("name", ["/etc/passwd", "secret.key", "flowyard.db", "flowyard.db-wal",
                                  "flowyard.db-shm", "logs/other-run/task.log", "server.json"])
def test_outside_the_root_or_flowyards_own_is_refused(guard: FileGuard, fy_home: Path,
                                                       name: str) -> None:
    path = Path(name) if name.startswith("/") else fy_home / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("private")
    with pytest.raises(RefusedPath, match="Flowyard does not read"):
        guard.open(path)


def test_symlink_out_of_the_root_is_refused(guard: FileGuard, fy_home: Path) -> None:
    link = fy_home / "artifacts" / "innocent.txt"
    link.symlink_to(fy_home / "secret.key")
    with pytest.raises(RefusedPath, match=r"not an artifact|database or key"):
        guard.open(link)
    (fy_home / "artifacts" / "passwd").symlink_to("/etc/passwd")
    with pytest.raises(RefusedPath, match="outside the artifact root"):
        guard.open(fy_home / "artifacts" / "passwd")


def test_hard_link_to_the_database_is_refused_without_opening_it(guard: FileGuard,
                                                                 fy_home: Path) -> None:
    db = fy_home / "flowyard.db"
    # This process holds SQLite's write lock (a POSIX lock in the -shm file, in WAL mode).
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    assert not _can_write_from_another_process(db)
    for target in ("flowyard.db", "flowyard.db-wal", "flowyard.db-shm", "secret.key"):
        link = fy_home / "artifacts" / f"copy-of-{target}"
        os.link(fy_home / target, link)  # same inode, a name inside the artifact root
        for scope in ("root", "user", "engine"):
            with pytest.raises(RefusedPath, match="link to\\) one of Flowyard's database or key"):
                guard.open(link, scope)  # type: ignore[arg-type]
    # Still locked: the guard never opened (and so never closed) a descriptor of them.
    assert not _can_write_from_another_process(db)
    # What an ordinary open and close does, which the guard exists to prevent: the process's
    # lock is gone and a second writer gets in while this one believes it holds the database.
    open(fy_home / "artifacts" / "copy-of-flowyard.db-shm", "rb").close()
    assert _can_write_from_another_process(db)
    conn.execute("ROLLBACK")
    conn.close()


def test_scopes(guard: FileGuard, fy_home: Path, tmp_path: Path) -> None:
    mine = tmp_path / "mine.csv"
    mine.write_text("a,b")
    work = fy_home / "work" / "run" / "out"
    work.parent.mkdir(parents=True)
    work.write_text("scratch")
    with pytest.raises(RefusedPath):
        guard.open(mine)  # served: root only
    assert guard.open(mine, scope="user").read() == b"a,b"  # an importer may copy it in
    with pytest.raises(RefusedPath, match="under FLOWYARD_HOME"):
        guard.open(work, scope="user")
    assert guard.open(work, scope="engine").read() == b"scratch"


def test_fifo_is_refused_not_waited_on(guard: FileGuard, fy_home: Path) -> None:
    fifo = fy_home / "artifacts" / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(RefusedPath, match="not a regular file"):
        guard.open(fifo)


def test_remote_root_serves_no_local_file(fy_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWYARD_ARTIFACT_ROOT", "s3://bucket/fy")
    inside_home_name = fy_home / "artifacts" / "x"
    inside_home_name.parent.mkdir(parents=True)
    inside_home_name.write_text("x")
    with pytest.raises(RefusedPath, match="remote"):
        FileGuard.current().open(inside_home_name.parent.parent.parent / "elsewhere.txt")


def test_root_holding_the_home_is_refused_clearly(fy_home: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWYARD_ARTIFACT_ROOT", str(tmp_path))
    (fy_home / "logs").mkdir(parents=True)
    (fy_home / "logs" / "t.log").write_text("log")
    with pytest.raises(RefusedPath, match="FLOWYARD_HOME"):
        FileGuard.current().open(fy_home / "logs" / "t.log")


def test_walk_is_ordered_and_does_not_follow_folder_links(guard: FileGuard, fy_home: Path) -> None:
    top = fy_home / "artifacts" / "folder"
    (top / "b").mkdir(parents=True)
    (top / "b" / "2.txt").write_text("2")
    (top / "a.txt").write_text("1")
    (top / "c").symlink_to(fy_home)  # a folder link: listed as an entry, never walked
    assert [rel for rel, _, _ in guard.walk(top)] == ["a.txt", "b/2.txt", "c"]
    with pytest.raises(RefusedPath):
        guard.open(top / "c")
