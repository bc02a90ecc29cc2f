"""Captured logs (issue 8, items 5 and 12): capped with a visible marker while the work is
drained to its end, the end kept, secret values masked, every byte read back (also a last
line without its newline), tails read from the end, timestamps and --since as kubectl has
them, and following until the work ends."""

from __future__ import annotations

import asyncio
import os
import re
import time
from pathlib import Path

import pytest

from flowyard.executors import get_executor
from flowyard.executors.base import LogRef, Work
from flowyard.executors.logs import LogWriter, Masker, iter_log, tail_offset, tail_text


def _run(task_id: str, script: str, env: dict[str, str] | None = None) -> LogRef:
    ex = get_executor()
    ref = LogRef(("pods", "default", task_id, "main"))

    async def go() -> None:
        h = await ex.submit(Work(task_id, ["sh", "-c", script], {**os.environ, **(env or {})},
                                 "", log=ref))
        e = await h.wait_exit()
        assert e.code == 0
        await ex.release(h)

    asyncio.run(go())
    return ref


def _path(ref: LogRef) -> Path:
    return get_executor().log_file(ref)  # type: ignore[attr-defined,no-any-return]


def test_a_huge_log_is_capped_visibly_the_work_never_blocks_and_its_end_is_kept(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWYARD_MAX_LOG_BYTES", str(256 * 1024))
    # ~20 MB of output, then the lines a user needs: the end.
    ref = _run("loud", "yes 'a line of output that repeats' | head -c 20000000; echo; "
                       "echo 'Traceback: the real error'; printf 'no newline at the end'")
    path = _path(ref)
    size = path.stat().st_size
    assert size < 256 * 1024 + 1024
    text = path.read_bytes()
    assert b"this log reached its cap of 256.0 KiB (FLOWYARD_MAX_LOG_BYTES)" in text
    assert re.search(rb"--- flowyard: [\d.]+ MiB of output left out", text)
    assert text.endswith(b"Traceback: the real error\nno newline at the end")
    assert tail_text(path, 2) == "Traceback: the real error\nno newline at the end"


def test_every_byte_is_read_back_in_chunks(tmp_path: Path) -> None:
    path = tmp_path / "big.log"
    body = b"".join(b"line %d\n" % i for i in range(300_000)) + b"last 4096 bytes" * 300
    path.write_bytes(body)
    chunks = list(iter_log(path))
    assert max(len(c) for c in chunks) <= 64 * 1024
    assert b"".join(chunks) == body
    start = tail_offset(path, 3)
    assert body[start:].startswith(b"line 299998\nline 299999\nlast 4096 bytes")


def test_masking_holds_across_chunk_boundaries() -> None:
    m = Masker(["hunter2", "abc", "-----BEGIN KEY-----\nsecretline\n-----END KEY-----"])
    pieces = [b"pw=hun", b"ter2; ab", b"", b"c! ", b"key: secr", b"etline\n", b"tail ab"]
    out = b"".join(m.feed(p) for p in pieces) + m.flush()
    assert out == b"pw=***; ***! key: ***\ntail ab"


def test_a_secret_printed_by_a_task_is_masked_in_its_log() -> None:
    ex = get_executor()
    ref = LogRef(("pods", "default", "leaky", "main"))

    async def go() -> None:
        w = Work("leaky", ["sh", "-c", 'echo "password is $PW"; printf "$PW" | cut -c1-3; '
                           'printf "${PW}${PW}\\n"'], {**os.environ, "PW": "s3cr3t-v4lue"},
                 "", log=ref)
        w.log_policy.mask = ["s3cr3t-v4lue"]
        h = await ex.submit(w)
        await h.wait_exit()
        await ex.release(h)

    asyncio.run(go())
    text = _path(ref).read_text()
    assert "s3cr3t-v4lue" not in text
    assert "password is ***" in text and "******" in text


def test_timestamps_and_since_as_kubectl_logs_has_them() -> None:
    ref = _run("stamped", "echo early; sleep 1.2; echo late")
    path = _path(ref)
    lines = b"".join(iter_log(path, timestamps=True)).decode().splitlines()
    assert len(lines) == 2
    stamps = [ln.split(" ", 1)[0] for ln in lines]
    for s in stamps:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", s)
    assert [ln.split(" ", 1)[1] for ln in lines] == ["early", "late"]
    assert stamps[0] < stamps[1]
    # --since: only what arrived after a moment between the two lines.
    from datetime import datetime

    first = datetime.strptime(stamps[0][:26], "%Y-%m-%dT%H:%M:%S.%f").timestamp()
    tz = time.timezone if time.localtime().tm_isdst == 0 else time.altzone
    since = first - tz + 0.6
    assert b"".join(iter_log(path, since=since)) == b"late\n"
    assert b"".join(iter_log(path, tail=1)) == b"late\n"


def test_follow_streams_until_the_work_ends() -> None:
    ex = get_executor()
    ref = LogRef(("pods", "default", "follow", "main"))

    async def go() -> list[bytes]:
        h = await ex.submit(Work("follow", ["sh", "-c", "for i in 1 2 3; do echo $i; sleep 0.3; "
                                            "done; printf end"], dict(os.environ), "", log=ref))
        got = [c async for c in ex.read_log(ref, follow=True)]
        assert not h.alive()  # following ended because the work did
        await ex.release(h)
        return got

    got = asyncio.run(go())
    assert b"".join(got) == b"1\n2\n3\nend"
    assert len(got) >= 2  # streamed as it came, not read once at the end


def test_writer_marks_truncation_once_and_keeps_line_boundaries(tmp_path: Path) -> None:
    path = tmp_path / "w.log"
    w = LogWriter(path, max_bytes=4096, mask=[])
    for i in range(2000):
        w.write(b"row %04d\n" % i)
    w.close()
    text = path.read_text()
    assert text.count("reached its cap") == 1
    body = [ln for ln in text.splitlines() if not ln.startswith("--- flowyard")]
    assert all(re.fullmatch(r"row \d{4}", ln) for ln in body), body[:3]
    assert body[-1] == "row 1999" and body[0] == "row 0000"
