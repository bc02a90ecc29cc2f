"""A zip archive written as it is sent: one file at a time, a chunk at a time, so a folder
of any size costs a few hundred KiB of memory and the first bytes leave at once.

The chunks come from a plain (synchronous) generator; the HTTP layer iterates it in a worker
thread, so neither reading files nor compressing ever runs on the event loop. zipfile
writes to a sink that cannot seek, which makes it put each entry's sizes and CRC in a data
descriptor after the data, as streaming zip writers do; every unzip tool reads that."""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

CHUNK = 1 << 16
NOT_INCLUDED = "FLOWYARD-NOT-INCLUDED.txt"


class _Sink:
    """What zipfile writes into: bytes waiting to be sent. Not seekable on purpose."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self.size = 0

    def write(self, data: bytes) -> int:
        if data:
            self._parts.append(bytes(data))
            self.size += len(data)
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        self.size = 0
        return out


Entry = tuple[str, Callable[[], BinaryIO], int]


def zip_chunks(entries: Iterable[Entry], refused: type[Exception] = PermissionError
               ) -> Iterator[bytes]:
    """Zip bytes for (name in the archive, opener, size) entries, in order. An entry whose
    opener raises `refused` is left out and named, with the reason, in NOT_INCLUDED."""
    sink = _Sink()
    left_out: list[str] = []
    # Level 1: most of deflate's gain at several times its default speed, for large folders.
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, opener, size in entries:
            try:
                src = opener()
            except (refused, OSError) as exc:
                left_out.append(f"{name}: {exc}")
                continue
            # Unseekable: whether an entry needs ZIP64 headers must be known before its data.
            big = size * 1.05 > zipfile.ZIP64_LIMIT
            with src, zf.open(name, "w", force_zip64=big) as dst:
                while chunk := src.read(CHUNK):
                    dst.write(chunk)
                    if sink.size >= CHUNK:
                        yield sink.take()
            if sink.size:
                yield sink.take()
        if left_out:
            zf.writestr(NOT_INCLUDED, "Flowyard left these out of the archive:\n"
                        + "\n".join(left_out) + "\n")
    yield sink.take()
