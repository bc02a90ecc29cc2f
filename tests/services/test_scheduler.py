"""The scheduler against a real store: runs recorded per fire, max concurrency, no double
fire when two schedulers (or a restarted one) look at the same moment."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import yaml
from kfp import compiler

from flowyard.services import recurring
from flowyard.services.context import Services
from flowyard.services.launcher import Launcher
from flowyard.services.scheduler import fire_due
from flowyard.store import Store
from flowyard.store.recurring import RecurringStore
from tests.api.components import one_step


def _services(store: Store) -> Services:
    # The real launcher on a loop that is never run: these tests look at what fires and what
    # the store records, not at driving runs (tests/api does that).
    return Services(store, Launcher(asyncio.new_event_loop(), store))


def _spec(tmp_path: Any) -> dict[str, Any]:
    path = tmp_path / "p.yaml"
    compiler.Compiler().compile(one_step, str(path))
    return yaml.safe_load(path.read_text())


def test_fires_catch_up_within_max_concurrency(store: Store, tmp_path: Any) -> None:
    svc = _services(store)
    rr = recurring.create(svc, {
        "display_name": "nightly", "pipeline_spec": _spec(tmp_path),
        "runtime_config": {"parameters": {"x": 4}},
        "trigger": {"periodic_schedule": {"interval_second": "60"}}, "max_concurrency": "2"})
    row = RecurringStore(store).get(rr["recurring_run_id"])
    later = row.enabled_at + timedelta(minutes=5, seconds=1)
    first = fire_due(svc, later)
    assert len(first) == 2  # five fires are due; two may run at once
    runs = [store.get_run(r) for r in first]
    assert [r.scheduled_at for r in runs] == [row.enabled_at + timedelta(minutes=1),
                                              row.enabled_at + timedelta(minutes=2)]
    assert all(r.recurring_run_id == row.id and r.arguments == {"x": 4} for r in runs)
    assert fire_due(svc, later) == []  # still two running: nothing more, nothing repeated
    for r in first:
        store.update_run(r, state="SUCCEEDED")
    nxt = fire_due(svc, later)
    assert [store.get_run(r).scheduled_at for r in nxt] == [
        row.enabled_at + timedelta(minutes=3), row.enabled_at + timedelta(minutes=4)]


def test_no_catchup_and_disable(store: Store, tmp_path: Any) -> None:
    svc = _services(store)
    rr = recurring.create(svc, {
        "display_name": "latest-only", "pipeline_spec": _spec(tmp_path), "no_catchup": True,
        "trigger": {"periodic_schedule": {"interval_second": "60"}}})
    row = RecurringStore(store).get(rr["recurring_run_id"])
    fired = fire_due(svc, row.enabled_at + timedelta(minutes=10, seconds=5))
    assert [store.get_run(r).scheduled_at for r in fired] == [
        row.enabled_at + timedelta(minutes=10)]
    recurring.set_enabled(svc, rr["recurring_run_id"], False)
    assert fire_due(svc, row.enabled_at + timedelta(hours=1)) == []
    assert recurring.get(svc, rr["recurring_run_id"])["status"] == "DISABLED"


def test_a_fire_is_recorded_once(store: Store, tmp_path: Any) -> None:
    """Two schedulers reading the same schedule (a restart racing an old process): the
    fire is one transaction guarded by the last fire time, so only one run is made."""
    svc = _services(store)
    rr = recurring.create(svc, {
        "display_name": "once", "pipeline_spec": _spec(tmp_path),
        "trigger": {"cron_schedule": {"cron": "0 * * * * *"}}})
    row = RecurringStore(store).get(rr["recurring_run_id"])
    fields = {"display_name": "x", "pipeline_name": "p", "state": "PENDING", "spec": {},
              "arguments": {}}
    when = row.enabled_at + timedelta(minutes=1)
    assert RecurringStore(store).fire(row.id, when, None, fields) is not None
    assert RecurringStore(store).fire(row.id, when, None, fields) is None
