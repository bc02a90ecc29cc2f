"""When a recurring run fires, derived only from what is stored (trigger, start/end time,
when it was enabled, the last fire), so a restarted server continues the same schedule."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from croniter import croniter

from flowyard.services.errors import InvalidArgument

_EVERY = re.compile(r"^@every\s+(\d+)([smh])$")
_UNITS = {"s": 1, "m": 60, "h": 3600}


def every_seconds(cron: str) -> int | None:
    """Kubeflow's cron library also takes "@every 30s": an interval, not a calendar."""
    m = _EVERY.match(cron.strip())
    return int(m.group(1)) * _UNITS[m.group(2)] if m else None


def normalise_cron(cron: str) -> str:
    """A cron expression as croniter reads it. Kubeflow's (robfig/cron) has six fields with
    seconds first and '?' for "any"; five-field and @hourly-style forms are accepted too."""
    expr = cron.strip().replace("?", "*")
    if every_seconds(expr) is not None:
        return expr
    fields = expr.split()
    ok = len(fields) in (5, 6) or (len(fields) == 1 and expr.startswith("@"))
    if ok:
        try:
            ok = croniter.is_valid(expr, second_at_beginning=len(fields) == 6)
        except Exception:  # croniter raises assorted errors on odd input
            ok = False
    if not ok:
        raise InvalidArgument(f"trigger.cron_schedule.cron: {cron!r} is not a cron expression "
                              "(six fields with seconds first, as Kubeflow's '0 0 9 ? * 2-6', "
                              "or five fields, or @every 30s)")
    return expr


def _cron_iter(expr: str, start: datetime) -> croniter:
    return croniter(expr, start, ret_type=datetime, second_at_beginning=len(expr.split()) == 6)


def next_fire(*, cron: str, interval: int, after: datetime) -> datetime:
    """The first fire time strictly after `after`."""
    seconds = every_seconds(cron) if cron else interval
    if seconds:
        return after + timedelta(seconds=seconds)
    return _cron_iter(cron, after).get_next(datetime)


def latest_fire(*, cron: str, interval: int, after: datetime, now: datetime) -> datetime:
    """The newest fire time in (after, now]; `after`'s next fire when none is past yet.
    What a schedule without catch-up runs after a pause: only the latest missed fire."""
    seconds = every_seconds(cron) if cron else interval
    if seconds:
        steps = max(1, int((now - after).total_seconds() // seconds))
        return after + timedelta(seconds=steps * seconds)
    prev = _cron_iter(cron, now + timedelta(microseconds=1)).get_prev(datetime)
    first = next_fire(cron=cron, interval=interval, after=after)
    return max(prev, first)


def due(*, cron: str, interval: int, anchor: datetime, end: datetime | None, now: datetime,
        catchup: bool) -> datetime | None:
    """The fire time to run now, if any. `anchor` is the last fire, or when the schedule
    became active (enabled, or its start time)."""
    when = next_fire(cron=cron, interval=interval, after=anchor)
    if when > now:
        return None
    if not catchup:
        when = latest_fire(cron=cron, interval=interval, after=anchor, now=now)
    if end is not None and when > end:
        return None
    return when
