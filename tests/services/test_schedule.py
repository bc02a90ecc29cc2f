"""When recurring runs fire: cron (Kubeflow's six fields, seconds first), periodic,
catch-up or not, end time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from flowyard.services.errors import InvalidArgument
from flowyard.services.schedule import due, next_fire, normalise_cron

T0 = datetime(2026, 3, 2, 8, 0, 0, tzinfo=UTC)  # a Monday


def test_kubeflow_cron_with_seconds_first() -> None:
    cron = normalise_cron("0 0 9 ? * 2-6")  # 9:00:00, Tuesday to Saturday (Sunday is 0)
    assert next_fire(cron=cron, interval=0, after=T0) == T0.replace(day=3, hour=9)
    assert next_fire(cron=normalise_cron("*/5 * * * *"), interval=0, after=T0) == \
        T0 + timedelta(minutes=5)
    assert next_fire(cron=normalise_cron("@every 90s"), interval=0, after=T0) == \
        T0 + timedelta(seconds=90)
    with pytest.raises(InvalidArgument, match="not a cron expression"):
        normalise_cron("every tuesday")


def test_catch_up_fires_each_missed_time_and_no_catchup_only_the_latest() -> None:
    now = T0 + timedelta(seconds=35)
    assert due(cron="", interval=10, anchor=T0, end=None, now=now, catchup=True) == \
        T0 + timedelta(seconds=10)
    assert due(cron="", interval=10, anchor=T0, end=None, now=now, catchup=False) == \
        T0 + timedelta(seconds=30)
    assert due(cron="", interval=10, anchor=T0, end=None, now=T0 + timedelta(seconds=9),
               catchup=True) is None
    cron = normalise_cron("0 * * * * *")  # every minute at second 0
    late = T0 + timedelta(minutes=5, seconds=3)
    assert due(cron=cron, interval=0, anchor=T0, end=None, now=late, catchup=False) == \
        T0 + timedelta(minutes=5)


def test_end_time_stops_the_schedule() -> None:
    end = T0 + timedelta(seconds=15)
    assert due(cron="", interval=10, anchor=T0, end=end, now=T0 + timedelta(minutes=1),
               catchup=True) == T0 + timedelta(seconds=10)
    assert due(cron="", interval=10, anchor=T0 + timedelta(seconds=10), end=end,
               now=T0 + timedelta(minutes=1), catchup=True) is None
