"""On start, pick up runs whose driver died (the server was killed, a CLI run was
interrupted): they are resumed, and tasks that had finished are not executed again."""

from __future__ import annotations

import logging

from flowyard.services.context import Services
from flowyard.services.runs import driver_alive

log = logging.getLogger("flowyard.recovery")


def resume_orphans(svc: Services) -> list[str]:
    resumed = []
    for row in svc.store.list_runs(limit=1_000_000, states=("PENDING", "RUNNING")):
        if driver_alive(row.driver) or svc.launcher.owns(row.id):
            continue
        svc.store.add_event("Resumed", f"run {row.id} was {row.state} with no live driver "
                            f"({row.driver or 'never started'}): resuming it", run_id=row.id)
        svc.launcher.start(row.id, resume=True)
        resumed.append(row.id)
    if resumed:
        log.info("resuming %d interrupted run(s)", len(resumed))
    return resumed
