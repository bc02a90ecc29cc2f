"""Recurring runs for the dashboard: the list with each schedule's next fire time, enable
and disable, and the runs a schedule started."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from flowyard.services.context import Services
from flowyard.services.errors import NotFound
from flowyard.store import errors as store_errors
from flowyard.store.recurring import RecurringStore
from flowyard.store.schema import Experiment, RecurringRun, Run
from flowyard.store.store import now


def next_fire(row: RecurringRun, at: datetime | None = None) -> datetime | None:
    """When the schedule fires next (None when disabled or past its end). Derived like the
    scheduler does: from the last fire, or from when it was enabled."""
    if not row.enabled:
        return None
    at = at or now()
    base = max(d for d in (row.last_fire_at, row.enabled_at, row.start_time) if d is not None)
    if row.cron:
        from croniter import croniter

        expr = row.cron.split()
        # KFP's cron has a seconds field first (6 fields); croniter wants it last.
        if len(expr) == 6:
            expr = expr[1:] + expr[:1]
        nxt = croniter(" ".join(expr), base).get_next(datetime)
        nxt = nxt if nxt.tzinfo else nxt.replace(tzinfo=UTC)
    elif row.interval_second:
        nxt = base + timedelta(seconds=row.interval_second)
    else:
        return None
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
        except (ValueError, KeyError):
            nxt = None
        out.append({"id": r.id, "name": r.display_name, "enabled": r.enabled,
                    "trigger": f"cron {r.cron}" if r.cron else f"every {r.interval_second}s",
                    "experiment": exps.get(r.experiment_id or "", ""),
                    "max_concurrency": r.max_concurrency, "no_catchup": r.no_catchup,
                    "last_fire": r.last_fire_at, "next_fire": nxt,
                    "runs": counts.get(r.id, 0), "parameters": r.parameters or {}})
    return out


def set_enabled(svc: Services, rr_id: str, enabled: bool) -> None:
    try:
        RecurringStore(svc.store).set_enabled(rr_id, enabled)
    except store_errors.NotFound as exc:
        raise NotFound(str(exc)) from None
