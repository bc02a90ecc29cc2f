"""Reading a task's log for the reason it failed."""

from __future__ import annotations

from pathlib import Path

TAIL_LINES = 30


def tail(path: str, lines: int = TAIL_LINES) -> str:
    p = Path(path)
    if not p.exists():
        return ""
    with p.open("rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - 64 * 1024))
        data = f.read().decode("utf-8", "replace")
    return "\n".join(data.splitlines()[-lines:])


def failure_summary(path: str, code: int) -> tuple[str, str]:
    """('exit code 1: ValueError: boom', last lines of the log)."""
    text = tail(path)
    reason = ""
    for line in reversed(text.splitlines()):
        s = line.strip()
        if s and not s.startswith("[KFP Executor") and not s.startswith("--- flowyard"):
            reason = s
            break
    how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
    return (f"{how}: {reason}" if reason else how), text
