"""Recurring runs for the dashboard: the list with each schedule's next fire time, enable
and disable, and the runs a schedule started."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from flowyard.services import recurring, schedule
from flowyard.services.context import Services
from flowyard.store.schema import Experiment, RecurringRun, Run


def next_fire(row: RecurringRun) -> datetime | None:
    """When the schedule fires next (None when disabled or past its end), derived the way
    the scheduler derives it: from the last fire, or from when it became active."""
    if not row.enabled:
        return None
    anchor = max(t for t in (row.last_fire_at, row.enabled_at, row.start_time) if t is not None)
    nxt = schedule.next_fire(cron=row.cron, interval=row.interval_second, after=anchor)
    if row.end_time is not None and nxt > row.end_time:
        return None
    return nxt


def list_recurring(svc: Services) -> list[dict[str, Any]]:
    with svc.store.session() as s:
        rows = s.scalars(select(RecurringRun).order_by(RecurringRun.created_at.desc())).all()
        counts = dict(s.execute(select(Run.recurring_run_id, func.count())
                                .where(Run.recurring_run_id.is_not(None))
                                .group_by(Run.recurring_run_id)).all())
        exps = dict(s.execute(select(Experiment.id, Experiment.name)).all())
    out = []
    for r in rows:
        try:
            nxt = next_fire(r)
        except (ValueError, KeyError):  # a stored cron croniter cannot read
            nxt = None
        out.append({"id": r.id, "name": r.display_name, "enabled": r.enabled,
                    "trigger": f"cron {r.cron}" if r.cron else f"every {r.interval_second}s",
                    "experiment": exps.get(r.experiment_id or "", ""),
                    "max_concurrency": r.max_concurrency, "no_catchup": r.no_catchup,
                    "last_fire": r.last_fire_at, "next_fire": nxt,
                    "runs": counts.get(r.id, 0), "parameters": r.parameters or {}})
    return out


def set_enabled(svc: Services, rr_id: str, enabled: bool) -> None:
    recurring.set_enabled(svc, rr_id, enabled)
