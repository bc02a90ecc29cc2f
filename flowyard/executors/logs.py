"""A work's captured output: how the supervisor writes it and how everyone reads it.

Writing (in the supervisor, `LogWriter`): secret values are replaced by '***' (also when a value
is split across two reads), the log is capped (FLOWYARD_MAX_LOG_BYTES, default 100 MiB per
work): past the cap a visible marker line is written, the middle is discarded while the work
keeps being drained (it never blocks on a full pipe), and the last bytes are kept and written
when the work ends, after a second marker saying how much was left out: the end of a log (the
traceback) is what a user needs most. Each chunk's arrival time goes to a side index
(`<log>.idx`: 16-byte records of file offset and epoch time), which gives every line its
timestamp for `kubectl logs --timestamps/--since` without touching the log's bytes.

Reading (`iter_log`, `aiter_log`, `tail_offset`): in chunks, never the whole file in memory; a
tail seeks from the end; following stops once the work that writes the log has ended and every
byte it wrote has been read.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import os
import re
import struct
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

DEFAULT_MAX_BYTES = 100 * 2**20
TAIL_KEEP_MAX = 2**20  # bytes of a capped log's end kept for when the work finishes
CHUNK = 64 * 1024
MAX_LINE_PENDING = 2**20  # a line longer than this is passed on in pieces
_RECORD = struct.Struct("<Qd")
MASK = b"***"


def max_log_bytes() -> int:
    raw = os.environ.get("FLOWYARD_MAX_LOG_BYTES", "").strip()
    if not raw:
        return DEFAULT_MAX_BYTES
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"FLOWYARD_MAX_LOG_BYTES={raw!r}: expected a number of bytes") from None
    if value < 1024:
        raise ValueError(f"FLOWYARD_MAX_LOG_BYTES={raw!r}: expected at least 1024 bytes")
    return value


def index_path(log: Path | str) -> Path:
    return Path(f"{log}.idx")


def meta_path(log: Path | str) -> Path:
    return Path(f"{log}.meta")


def previous_path(log: Path | str) -> Path:
    return Path(f"{log}.previous")


def _human(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


class Masker:
    """Replaces secret values in a byte stream. A value split across two chunks is still
    caught: a chunk's end that could be the start of a value is held back for the next."""

    def __init__(self, values: list[str]) -> None:
        secrets: set[bytes] = set()
        for v in values:
            if not v:
                continue
            secrets.add(v.encode())
            # A multi-line value (a key file) printed line by line: each line is masked too.
            secrets.update(ln.encode() for ln in v.splitlines() if len(ln.strip()) >= 4)
        self._secrets = sorted(secrets, key=len, reverse=True)
        self._re = re.compile(b"|".join(re.escape(s) for s in self._secrets)) if secrets else None
        self._carry = b""

    def _held(self, buf: bytes) -> int:
        """Length of the longest end of `buf` that is a proper start of a secret."""
        longest = min(len(buf), max(len(s) for s in self._secrets) - 1)
        for k in range(longest, 0, -1):
            end = buf[-k:]
            if any(len(s) > k and s.startswith(end) for s in self._secrets):
                return k
        return 0

    def feed(self, data: bytes) -> bytes:
        if self._re is None:
            return data
        buf = self._carry + data
        matches = list(self._re.finditer(buf))
        cut = len(buf) - self._held(buf)
        for m in matches:  # a whole value across the cut goes out (masked) now
            if m.start() < cut < m.end():
                cut = m.end()
        self._carry = buf[cut:]
        return self._re.sub(MASK, buf[:cut])

    def flush(self) -> bytes:
        out, self._carry = self._carry, b""
        return self._re.sub(MASK, out) if self._re is not None else out


class LogWriter:
    """Appends a work's output to its log file, masked and capped, and indexes arrival times."""

    def __init__(self, path: str | Path, *, max_bytes: int, mask: list[str]) -> None:
        self.path = Path(path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._idx = os.open(index_path(self.path), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._offset = os.fstat(self._fd).st_size
        self._masker = Masker(mask)
        self._cap = max_bytes
        self._keep = min(TAIL_KEEP_MAX, max_bytes // 4)
        self._written = 0
        self._truncated = False
        self._omitted = 0
        self._ring: collections.deque[tuple[bytes, float]] = collections.deque()
        self._ring_bytes = 0

    def _append(self, data: bytes, ts: float) -> None:
        if not data:
            return
        os.write(self._idx, _RECORD.pack(self._offset, ts))
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        self._offset += len(data)
        self._written += len(data)

    def write(self, data: bytes, ts: float | None = None) -> None:
        self._emit(self._masker.feed(data), time.time() if ts is None else ts)

    def _emit(self, data: bytes, ts: float) -> None:
        if not data:
            return
        if self._truncated:
            self._ring.append((data, ts))
            self._ring_bytes += len(data)
            while self._ring and self._ring_bytes - len(self._ring[0][0]) >= self._keep:
                dropped, _ = self._ring.popleft()
                self._ring_bytes -= len(dropped)
                self._omitted += len(dropped)
            return
        room = self._cap - self._keep - self._written
        if len(data) <= room:
            self._append(data, ts)
            return
        head = data[:max(room, 0)]
        newline = head.rfind(b"\n")
        if newline >= 0:  # cut at a line's end where one is near
            head = head[:newline + 1]
        self._append(head, ts)
        if not head.endswith(b"\n") and self._offset:
            self._append(b"\n", ts)
        self._append(f"--- flowyard: this log reached its cap of {_human(self._cap)} "
                     "(FLOWYARD_MAX_LOG_BYTES); what follows is discarded, except its last "
                     f"{_human(self._keep)}, written when the work ends ---\n".encode(), ts)
        self._truncated = True
        self._emit(data[len(head):], ts)

    def close(self) -> None:
        self._emit(self._masker.flush(), time.time())
        if self._truncated:
            tail = b"".join(d for d, _ in self._ring)
            first_ts = self._ring[0][1] if self._ring else time.time()
            cut = tail.find(b"\n")
            if 0 <= cut < len(tail) - 1 and self._omitted + len(tail) > self._keep:
                self._omitted += cut + 1
                tail = tail[cut + 1:]
            self._append(f"--- flowyard: {_human(self._omitted)} of output left out; the "
                         "log's last lines follow ---\n".encode(), first_ts)
            self._append(tail, first_ts)
            self._ring.clear()
        os.close(self._fd)
        os.close(self._idx)


# reading ------------------------------------------------------------------------------

def format_ts(ts: float) -> str:
    """RFC 3339 with nanoseconds, as `kubectl logs --timestamps` prints it."""
    sec = int(ts)
    ns = round((ts - sec) * 1e9)
    if ns >= 1_000_000_000:
        sec, ns = sec + 1, ns - 1_000_000_000
    return datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{ns:09d}Z"


class _Index:
    """Arrival times by file offset, read lazily from the side index."""

    def __init__(self, path: Path) -> None:
        self._offsets: list[int] = []
        self._times: list[float] = []
        self._path = path
        self._read = 0
        self.refresh()

    def refresh(self) -> None:
        try:
            with self._path.open("rb") as f:
                f.seek(self._read)
                data = f.read()
        except OSError:
            return
        whole = len(data) - len(data) % _RECORD.size
        for off, ts in _RECORD.iter_unpack(data[:whole]):
            if self._offsets and off < self._offsets[-1]:
                continue  # the file was rewritten under us; keep what is ordered
            self._offsets.append(off)
            self._times.append(ts)
        self._read += whole

    def time_at(self, offset: int) -> float:
        i = bisect.bisect_right(self._offsets, offset) - 1
        if i < 0:
            return self._times[0] if self._times else 0.0
        return self._times[i]

    def offset_since(self, since: float) -> int:
        i = bisect.bisect_left(self._times, since)
        return self._offsets[i] if i < len(self._offsets) else -1


def tail_offset(path: Path | str, lines: int) -> int:
    """Where the last `lines` lines of the file begin, found by reading backwards from its end
    (a final line without its newline counts as a line)."""
    with open(path, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        if lines <= 0:
            return size
        pos = size
        if size:
            f.seek(size - 1)
            if f.read(1) == b"\n":
                pos = size - 1  # the last line's own newline separates nothing
        found = 0
        while pos > 0:
            step = min(CHUNK, pos)
            pos -= step
            f.seek(pos)
            block = f.read(step)
            i = len(block)
            while (i := block.rfind(b"\n", 0, i)) >= 0:
                found += 1
                if found == lines:
                    return pos + i + 1
        return 0


def _chunks(path: Path, *, ended: Callable[[], bool] | None, tail: int | None,
            since: float | None, timestamps: bool) -> Iterator[bytes | None]:
    """The file's bytes from where the options say, then (following) what is appended until
    `ended()`; yields None where a follower should wait a little."""
    while not path.exists():
        if ended is None or ended():
            return
        yield None
    index = _Index(index_path(path)) if (timestamps or since is not None) else None
    with path.open("rb") as f:
        start = tail_offset(path, tail) if tail is not None else 0
        if since is not None and index is not None:
            at = index.offset_since(since)
            start = max(start, at if at >= 0 else f.seek(0, os.SEEK_END))
        f.seek(start)
        pos = start
        pending = b""  # the start of a line not complete yet (line mode)
        line_start = True
        while True:
            finished = ended is None or ended()  # asked before reading: nothing written is missed
            data = f.read(CHUNK)
            if not data:
                if pending and (finished or len(pending) >= MAX_LINE_PENDING):
                    yield pending
                    pending = b""
                if finished:
                    return
                yield None
                continue
            if index is None:
                pos += len(data)
                yield data
                continue
            index.refresh()
            buf, base = pending + data, pos - len(pending)
            pos += len(data)
            out = []
            cursor = 0
            while True:
                nl = buf.find(b"\n", cursor)
                if nl < 0:
                    break
                out.append(_line(buf[cursor:nl + 1], base + cursor, index, since, timestamps,
                                 line_start))
                line_start = True
                cursor = nl + 1
            pending = buf[cursor:]
            if len(pending) >= MAX_LINE_PENDING:
                out.append(_line(pending, base + cursor, index, since, timestamps, line_start))
                pending, line_start = b"", False
            joined = b"".join(out)
            if joined:
                yield joined


def _line(line: bytes, offset: int, index: _Index, since: float | None, timestamps: bool,
          line_start: bool) -> bytes:
    ts = index.time_at(offset)
    if since is not None and ts < since:
        return b""
    if timestamps and line_start:
        return format_ts(ts).encode() + b" " + line
    return line


def iter_log(path: Path | str, *, ended: Callable[[], bool] | None = None,
             tail: int | None = None, since: float | None = None, timestamps: bool = False,
             poll_s: float = 0.2) -> Iterator[bytes]:
    """The log in chunks. `ended` set: follow until it returns True (then drain to the end).
    `tail`: only the last lines; `since` (epoch seconds): only lines that arrived since;
    `timestamps`: each line prefixed with its arrival time (RFC 3339, nanoseconds)."""
    for chunk in _chunks(Path(path), ended=ended, tail=tail, since=since, timestamps=timestamps):
        if chunk is None:
            time.sleep(poll_s)
        else:
            yield chunk


async def aiter_log(path: Path | str, *, ended: Callable[[], bool] | None = None,
                    tail: int | None = None, since: float | None = None,
                    timestamps: bool = False, poll_s: float = 0.2) -> AsyncIterator[bytes]:
    """`iter_log` for the event loop: file reads happen in a worker thread, waits do not."""
    gen = _chunks(Path(path), ended=ended, tail=tail, since=since, timestamps=timestamps)
    done = object()
    try:
        while True:
            chunk = await asyncio.to_thread(next, gen, done)
            if chunk is done:
                return
            if chunk is None:
                await asyncio.sleep(poll_s)
            else:
                yield chunk  # type: ignore[misc]
    finally:
        gen.close()


def read_range(path: Path | str, offset: int, limit: int) -> tuple[bytes, int]:
    """At most `limit` bytes from `offset` and the offset after them (a poller's next ask)."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read(limit)
    except FileNotFoundError:
        return b"", offset
    return data, offset + len(data)


def tail_text(path: Path | str, lines: int, max_bytes: int = 256 * 1024) -> str:
    """The last `lines` lines as text, reading at most `max_bytes` from the end."""
    try:
        start = tail_offset(path, lines)
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(start, size - max_bytes))
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def writer_ended(log: Path | str) -> bool:
    """Whether the work writing `log` has ended (or nothing writes it): its supervisor
    recorded an exit, or is gone. Lets a reader that knows only the file follow it."""
    from flowyard.executors import state

    meta = state.read_json(meta_path(log))
    if meta is None:
        return True
    folder = Path(meta.get("state_dir", ""))
    if (folder / state.EXIT).exists():
        return True
    sup = state.read_json(folder / state.SUPERVISOR)
    if sup is None:
        # Being started: the supervisor writes its record before the work runs.
        return time.time() - float(meta.get("at", 0)) > 30
    return not state.is_alive(sup.get("pid"), sup.get("pid_start"))
