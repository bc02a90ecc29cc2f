"""The loop that fires recurring runs. It keeps nothing in memory: each tick reads the
enabled schedules and their last fires from the store."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime

from flowyard.pipelines.loader import PipelineDoc
from flowyard.services.context import Services
from flowyard.services.errors import ApiError
from flowyard.services.schedule import due
from flowyard.services.submission import run_fields
from flowyard.store.recurring import RecurringStore
from flowyard.store.store import now

log = logging.getLogger("flowyard.scheduler")
TICK_S = 0.5
MAX_FIRES_PER_TICK = 50  # a long catch-up proceeds over several ticks, never stalls the loop


def fire_due(svc: Services, at: datetime | None = None) -> list[str]:
    """Start every run that is due now; returns their ids."""
    at = at or now()
    rs = RecurringStore(svc.store)
    started: list[str] = []
    for rr in rs.enabled():
        active = rs.active_runs(rr.id)
        last = rr.last_fire_at
        for _ in range(MAX_FIRES_PER_TICK):
            if active >= rr.max_concurrency:
                break
            anchor = max(t for t in (last, rr.enabled_at, rr.start_time) if t is not None)
            when = due(cron=rr.cron, interval=rr.interval_second, anchor=anchor,
                       end=rr.end_time, now=at, catchup=not rr.no_catchup)
            if when is None:
                break
            try:
                fields = run_fields(PipelineDoc(rr.spec, rr.platform_spec, "<recurring run>"),
                                    rr.parameters or {}, experiment_id=rr.experiment_id or "",
                                    display_name=f"{rr.display_name} {when:%Y-%m-%d %H:%M:%S}",
                                    pipeline_id=rr.pipeline_id,
                                    pipeline_version_id=rr.pipeline_version_id,
                                    pipeline_root=rr.pipeline_root,
                                    service_account=rr.service_account)
            except ApiError as exc:
                log.warning("recurring run %s cannot fire: %s", rr.id, exc.message)
                break
            run_id = rs.fire(rr.id, when, last, fields)
            if run_id is None:
                break  # disabled, deleted or fired elsewhere since we read it
            svc.launcher.start(run_id)
            started.append(run_id)
            last, active = when, active + 1
    return started


async def run_scheduler(svc: Services, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await asyncio.to_thread(fire_due, svc)
        except Exception:
            log.exception("scheduler tick failed; trying again")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), TICK_S)
