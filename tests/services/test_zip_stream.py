"""The streamed zip of a folder artifact: correct for every unzip tool (zipfile and
`unzip -t` read it back byte for byte), lazy (a file is opened only when the archive reaches
it), bounded chunks, and what may not be read is left out and named."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import BinaryIO

import pytest

from flowyard.file_guard import FileGuard, RefusedPath
from flowyard.services.zip_stream import CHUNK, NOT_INCLUDED, zip_chunks


@pytest.fixture
def folder(fy_home: Path) -> Path:
    top = fy_home / "artifacts" / "run" / "model"
    (top / "weights" / "deep").mkdir(parents=True)
    (top / "weights" / "deep" / "w.bin").write_bytes(os.urandom(3 * 2**20 + 17))
    (top / "zeros.bin").write_bytes(bytes(5 * 2**20))
    (top / "empty").write_bytes(b"")
    (top / "naïve ☃.txt").write_text("unicode name")
    return top


def _entries(guard: FileGuard, top: Path, opened: list[str] | None = None
             ) -> list[tuple[str, object, int]]:
    def opener(path: str) -> BinaryIO:
        if opened is not None:
            opened.append(os.path.relpath(path, top))
        return guard.open(path)

    return [(rel, lambda p=path: opener(p), size) for rel, path, size in guard.walk(top)]


def test_zip_reads_back_byte_for_byte(folder: Path, tmp_path: Path) -> None:
    guard = FileGuard.current()
    chunks = list(zip_chunks(_entries(guard, folder), RefusedPath))  # type: ignore[arg-type]
    body = b"".join(chunks)
    zf = zipfile.ZipFile(io.BytesIO(body))
    assert zf.testzip() is None
    expected = {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert sorted(zf.namelist()) == sorted(expected)
    assert {n: zf.read(n) for n in zf.namelist()} == expected
    # Memory stays bounded: no chunk is much more than one read's worth of compressed data.
    assert max(len(c) for c in chunks) <= 4 * CHUNK
    if shutil.which("unzip"):
        out = tmp_path / "a.zip"
        out.write_bytes(body)
        assert subprocess.run(["unzip", "-tq", str(out)], capture_output=True).returncode == 0


def test_files_are_opened_only_as_the_archive_reaches_them(folder: Path) -> None:
    guard = FileGuard.current()
    opened: list[str] = []
    gen = zip_chunks(_entries(guard, folder, opened), RefusedPath)  # type: ignore[arg-type]
    next(gen)
    assert opened == ["empty"]  # the first entry in name order; nothing else read yet
    rest = list(gen)
    assert opened == ["empty", "naïve ☃.txt", "weights/deep/w.bin", "zeros.bin"] and rest


def test_refused_entries_are_left_out_and_named(folder: Path, fy_home: Path) -> None:
    (fy_home / "secret.key").write_text("key")
    (folder / "leak").symlink_to(fy_home / "secret.key")
    guard = FileGuard.current()
    zf = zipfile.ZipFile(io.BytesIO(b"".join(zip_chunks(_entries(guard, folder),  # type: ignore[arg-type]
                                                        RefusedPath))))
    assert "leak" not in zf.namelist()
    note = zf.read(NOT_INCLUDED).decode()
    assert "leak" in note and "database or key" in note


def test_an_entry_over_2_gib_gets_zip64_headers(folder: Path) -> None:
    # Declared size, as the folder walk reports it; the data itself is kept small here.
    f = folder / "zeros.bin"
    entries = [("huge.bin", lambda: FileGuard.current().open(f), 5 * 2**30)]
    body = b"".join(zip_chunks(entries, RefusedPath))  # type: ignore[arg-type]
    local_header_extra_len = int.from_bytes(body[28:30], "little")
    assert local_header_extra_len >= 20  # the ZIP64 extra field is there
    zf = zipfile.ZipFile(io.BytesIO(body))
    assert zf.testzip() is None and zf.read("huge.bin") == f.read_bytes()
