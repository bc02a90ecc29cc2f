"""Reading a task's log for the reason it failed."""

from __future__ import annotations

from flowyard.executors.logs import tail_text

TAIL_LINES = 30


def tail(path: str, lines: int = TAIL_LINES) -> str:
    # Read from the end, never the whole file: a task's log can be gigabytes.
    return "\n".join(tail_text(path, lines, max_bytes=64 * 1024).splitlines()[-lines:])


def failure_summary(path: str, code: int) -> tuple[str, str]:
    """('exit code 1: ValueError: boom', last lines of the log)."""
    text = tail(path)
    reason = ""
    for line in reversed(text.splitlines()):
        s = line.strip()
        if s and not s.startswith("[KFP Executor") and not s.startswith("--- flowyard"):
            reason = s
            break
    if code < 0:
        code = 128 - code  # a raw negative wait code: killed by signal -code
    how = (f"killed by signal {code - 128} (exit code {code})" if code > 128
           else f"exit code {code}")
    return (f"{how}: {reason}" if reason else how), text
