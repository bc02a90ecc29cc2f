"""Experiments as the KFP API manages them (create, archive with their runs, delete)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from flowyard.store.errors import Conflict, NotFound
from flowyard.store.schema import Artifact, Event, Experiment, Metric, RecurringRun, Run, Task
from flowyard.store.store import TERMINAL_RUN_STATES, Store, new_id


class ExperimentStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, name: str, description: str = "", namespace: str = "") -> Experiment:
        row = Experiment(id=new_id(), name=name, description=description, namespace=namespace)
        try:
            with self.store.session() as s, s.begin():
                s.add(row)
        except IntegrityError as exc:
            raise Conflict(f"an experiment named {name!r} already exists") from exc
        return row

    def get(self, experiment_id: str) -> Experiment:
        row = self.store.get_experiment(experiment_id)
        if row is None:
            raise NotFound(f"no experiment {experiment_id}")
        return row

    def last_run_times(self, ids: Sequence[str]) -> dict[str, object]:
        # One max() per experiment, each answered from the (experiment_id, created_at) index;
        # a GROUP BY would read every run of every experiment on the page.
        newest = (select(func.max(Run.created_at)).where(Run.experiment_id == Experiment.id)
                  .scalar_subquery())
        with self.store.session() as s:
            rows = s.execute(select(Experiment.id, newest).where(Experiment.id.in_(list(ids))))
            return {exp_id: when for exp_id, when in rows if when is not None}

    def set_archived(self, experiment_id: str, archived: bool) -> None:
        """Archiving an experiment archives its runs too, as in Kubeflow."""
        self.get(experiment_id)
        with self.store.session() as s, s.begin():
            s.execute(update(Experiment).where(Experiment.id == experiment_id)
                      .values(archived=archived))
            if archived:
                s.execute(update(Run).where(Run.experiment_id == experiment_id)
                          .values(archived=True))

    def delete(self, experiment_id: str) -> None:
        """Delete an experiment with its finished runs; refuse while a run is still going."""
        self.get(experiment_id)
        with self.store.session() as s, s.begin():
            active = s.scalar(select(func.count()).select_from(Run).where(
                Run.experiment_id == experiment_id,
                Run.state.not_in(list(TERMINAL_RUN_STATES))))
            if active:
                raise Conflict(f"experiment {experiment_id} has {active} run(s) still going: "
                               "terminate them first")
            run_ids = select(Run.id).where(Run.experiment_id == experiment_id)
            for table in (Metric, Artifact, Task, Event):
                s.execute(delete(table).where(table.run_id.in_(run_ids)))
            s.execute(delete(Run).where(Run.experiment_id == experiment_id))
            s.execute(delete(RecurringRun).where(RecurringRun.experiment_id == experiment_id))
            s.execute(delete(Experiment).where(Experiment.id == experiment_id))
