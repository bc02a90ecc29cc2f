"""Recurring runs, and the one transaction that fires them: the new run and the schedule's
`last_fire_at` are written together, so a crash can neither lose nor repeat a fire."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update

from flowyard.store.errors import NotFound
from flowyard.store.schema import RecurringRun, Run, utcnow
from flowyard.store.store import TERMINAL_RUN_STATES, Store, new_id


class RecurringStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, **fields: Any) -> RecurringRun:
        row = RecurringRun(id=new_id(), **fields)
        with self.store.session() as s, s.begin():
            s.add(row)
        return row

    def get(self, rr_id: str) -> RecurringRun:
        with self.store.session() as s:
            row = s.get(RecurringRun, rr_id)
        if row is None:
            raise NotFound(f"no recurring run {rr_id}")
        return row

    def enabled(self) -> list[RecurringRun]:
        with self.store.session() as s:
            return list(s.scalars(select(RecurringRun).where(RecurringRun.enabled.is_(True))))

    def set_enabled(self, rr_id: str, enabled: bool) -> None:
        row = self.get(rr_id)
        if row.enabled == enabled:
            return
        values: dict[str, Any] = {"enabled": enabled, "updated_at": utcnow()}
        if enabled:
            # Re-enabling starts the schedule afresh: missed fires while disabled never run.
            values["enabled_at"] = utcnow()
        with self.store.session() as s, s.begin():
            s.execute(update(RecurringRun).where(RecurringRun.id == rr_id).values(**values))

    def delete(self, rr_id: str) -> None:
        self.get(rr_id)
        with self.store.session() as s, s.begin():
            s.execute(delete(RecurringRun).where(RecurringRun.id == rr_id))

    def active_runs(self, rr_id: str) -> int:
        with self.store.session() as s:
            return s.scalar(select(func.count()).select_from(Run).where(
                Run.recurring_run_id == rr_id,
                Run.state.not_in(list(TERMINAL_RUN_STATES)))) or 0

    def fire(self, rr_id: str, scheduled_at: datetime, expected_last: datetime | None,
             run_fields: dict[str, Any]) -> str | None:
        """Record the run for the fire at `scheduled_at` and advance the schedule. Returns the
        run id, or None when the schedule moved meanwhile (deleted, disabled, already fired)."""
        run_id = new_id()
        with self.store.session() as s, s.begin():
            cond = [RecurringRun.id == rr_id, RecurringRun.enabled.is_(True)]
            cond.append(RecurringRun.last_fire_at.is_(None) if expected_last is None
                        else RecurringRun.last_fire_at == expected_last)
            res = s.execute(update(RecurringRun).where(*cond).values(last_fire_at=scheduled_at))
            if not res.rowcount:
                return None
            s.add(Run(id=run_id, recurring_run_id=rr_id, scheduled_at=scheduled_at, **run_fields))
        return run_id
