"""The store on SQLite (the default) and PostgreSQL: schema at head, runs and tasks persisted
as they change, artifacts and metrics written with their task in one transaction, and real
pipelines run end to end on both."""

import threading
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path

import pytest
import sqlalchemy as sa
from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Output

import flowyard
from flowyard.store import Store, open_store
from flowyard.store.db import current_revision, head_revision
from flowyard.store.store import ArtifactRecord, now

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, fy_home: Path) -> Iterator[Store]:
    if request.param == "postgres":
        request.getfixturevalue("pg_url")  # points FLOWYARD_DATABASE_URL at a fresh database
    store = open_store()
    assert store.engine.dialect.name == ("postgresql" if request.param == "postgres" else "sqlite")
    yield store


def _run(store: Store, **fields: object) -> str:
    exp = store.experiment_by_name("Default")
    assert exp is not None
    defaults: dict[str, object] = {"display_name": "r", "pipeline_name": "p",
                                   "experiment_id": exp.id, "spec": {"root": {}},
                                   "arguments": {}}
    return store.create_run(**{**defaults, **fields}).id


def test_schema_is_at_head(backend: Store) -> None:
    assert current_revision(backend.engine) == head_revision()
    tables = set(sa.inspect(backend.engine).get_table_names())
    assert {"runs", "tasks", "artifacts", "metrics", "events", "experiments"} <= tables
    # Opening again is cheap and changes nothing.
    assert open_store() is backend


def test_runs_round_trip(backend: Store) -> None:
    args = {"text": "héllo ✓", "nested": {"xs": [1, 2.5, None, True]}}
    run_id = _run(backend, arguments=args, state="PENDING")
    row = backend.get_run(run_id)
    assert row is not None
    assert row.arguments == args and row.state == "PENDING"
    assert row.created_at.tzinfo is not None and row.created_at.utcoffset() == UTC.utcoffset(None)
    backend.update_run(run_id, state="SUCCEEDED", outputs={"Output": [1, {"a": "b"}]})
    row = backend.get_run(run_id)
    assert row is not None and row.state == "SUCCEEDED" and row.outputs == {"Output": [1, {"a": "b"}]}
    assert backend.find_run(run_id[:8]) is not None
    assert backend.find_run(run_id[:8]).id == run_id  # type: ignore[union-attr]
    assert backend.find_run("zzzzzzzz") is None


def test_list_runs_newest_first_and_filtered(backend: Store) -> None:
    ids = [_run(backend, display_name=f"r{i}", state="FAILED" if i == 1 else "SUCCEEDED")
           for i in range(3)]
    assert [r.id for r in backend.list_runs()] == ids[::-1]
    assert [r.id for r in backend.list_runs(states=["FAILED"])] == [ids[1]]
    assert [r.id for r in backend.list_runs(limit=1, offset=1)] == [ids[1]]
    assert backend.count_runs() == 3


def test_request_cancel_only_while_running(backend: Store) -> None:
    running = _run(backend, state="RUNNING")
    done = _run(backend, state="SUCCEEDED")
    assert backend.request_cancel(running) and backend.cancel_requested(running)
    assert not backend.request_cancel(done) and not backend.cancel_requested(done)


def test_tasks_artifacts_and_metrics(backend: Store) -> None:
    run_id = _run(backend, state="RUNNING")
    task = backend.upsert_task(run_id, "train", name="train", state="PENDING")
    again = backend.upsert_task(run_id, "train", name="train", state="RUNNING")
    assert again.id == task.id  # a resumed run finds its old row
    backend.update_task(task.id, cache_key="k" * 64, started_at=now())
    metrics = ArtifactRecord("metrics", "system.Metrics", "/a/metrics",
                             {"acc": 0.9, "n": 3, "flag": True, "note": "x"})
    model = ArtifactRecord("model", "system.Model", "/a/model", {"framework": "sk"})
    outputs = {"parameters": {"p": 1}, "artifacts": {}}
    stored = backend.finish_task(task.id, run_id, "SUCCEEDED", outputs, [metrics, model])
    assert [s.name for s in stored] == ["metrics", "model"] and all(s.id for s in stored)
    row = backend.get_task(task.id)
    assert row is not None and row.state == "SUCCEEDED" and row.outputs == outputs
    assert row.finished_at is not None
    # Only numbers (not booleans or text) are metrics.
    assert {(m.key, m.value) for m in backend.metrics(run_id)} == {("acc", 0.9), ("n", 3.0)}
    assert backend.find_cached("k" * 64) is not None
    assert backend.find_cached("k" * 64).id == task.id  # type: ignore[union-attr]
    assert backend.find_artifact_by_uri("/a/model") is not None

    # Finishing again (a retried task) replaces its artifacts and metrics, never doubles them.
    backend.finish_task(task.id, run_id, "SUCCEEDED", outputs, [metrics])
    assert [a.name for a in backend.artifacts(run_id)] == ["metrics"]
    assert len(backend.metrics(run_id)) == 2


def test_finish_task_is_all_or_nothing(backend: Store) -> None:
    run_id = _run(backend, state="RUNNING")
    first = backend.upsert_task(run_id, "a", name="a", state="RUNNING")
    second = backend.upsert_task(run_id, "b", name="b", state="RUNNING")
    kept = backend.finish_task(first.id, run_id, "SUCCEEDED", {},
                               [ArtifactRecord("x", "system.Artifact", "/x", {})])
    clash = ArtifactRecord("y", "system.Metrics", "/y", {"m": 1.0}, id=kept[0].id)
    with pytest.raises(sa.exc.IntegrityError):
        backend.finish_task(second.id, run_id, "SUCCEEDED", {}, [clash])
    row = backend.get_task(second.id)
    assert row is not None and row.state == "RUNNING"  # nothing of the failed write landed
    assert backend.metrics(run_id) == []
    assert [a.name for a in backend.artifacts(run_id)] == ["x"]


def test_failed_tasks_are_not_cache_entries(backend: Store) -> None:
    run_id = _run(backend, state="RUNNING")
    task = backend.upsert_task(run_id, "t", name="t", state="RUNNING", cache_key="f" * 64)
    backend.finish_task(task.id, run_id, "FAILED", {}, error="boom")
    assert backend.find_cached("f" * 64) is None


def test_delete_run_removes_everything(backend: Store) -> None:
    run_id = _run(backend, state="SUCCEEDED")
    other = _run(backend, state="SUCCEEDED")
    for rid in (run_id, other):
        t = backend.upsert_task(rid, "t", name="t", state="RUNNING")
        backend.finish_task(t.id, rid, "SUCCEEDED", {},
                            [ArtifactRecord("m", "system.Metrics", f"/m/{rid}", {"v": 1})])
        backend.add_event("Note", "hello", run_id=rid, task_id=t.id)
    backend.delete_run(run_id)
    assert backend.get_run(run_id) is None
    assert backend.tasks(run_id) == [] and backend.artifacts(run_id) == []
    assert backend.metrics(run_id) == [] and backend.events(run_id) == []
    assert len(backend.tasks(other)) == 1 and len(backend.events(other)) == 1


def test_open_store_from_many_threads_at_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    got: list[Store] = []
    errors: list[BaseException] = []

    def open_it() -> None:
        try:
            got.append(open_store(url))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len({id(s) for s in got}) == 1
    assert current_revision(got[0].engine) == head_revision()


@dsl.component
def make_data(n: int, data: Output[Dataset], metrics: Output[Metrics]) -> int:
    with open(data.path, "w") as f:
        f.write("\n".join(str(i) for i in range(n)))
    data.metadata["rows"] = n
    metrics.log_metric("rows", n)
    return n * 10


@dsl.component
def count_rows(data: Input[Dataset]) -> int:
    with open(data.path) as f:
        return len(f.read().splitlines())


@dsl.pipeline
def end_to_end(n: int = 4) -> int:
    made = make_data(n=n)
    return count_rows(data=made.outputs["data"]).output


def test_pipeline_end_to_end(backend: Store) -> None:
    first = flowyard.run(end_to_end, arguments={"n": 5})
    assert first.state == "SUCCEEDED", first.error
    assert first.outputs == {"Output": 5}
    assert {t.name: t.state for t in first.tasks} == {"make-data": "SUCCEEDED",
                                                       "count-rows": "SUCCEEDED"}
    row = backend.get_run(first.id)
    assert row is not None and row.state == "SUCCEEDED" and row.finished_at is not None
    assert [(m.key, m.value) for m in backend.metrics(first.id)] == [("rows", 5.0)]
    data = next(a for a in backend.artifacts(first.id) if a.name == "data")
    assert data.schema_title == "system.Dataset" and data.metadata_ == {"rows": 5}
    assert Path(data.uri).read_text().splitlines() == ["0", "1", "2", "3", "4"]
    for t in backend.tasks(first.id):
        assert t.started_at is not None and t.finished_at is not None
        assert t.started_at <= t.finished_at
        assert t.log_path and Path(t.log_path).exists()

    exp = backend.experiment_by_name("Default", create=False)
    assert exp is not None and row.experiment_id == exp.id

    second = flowyard.run(end_to_end, arguments={"n": 5}, experiment="tuning",
                          run_name="second try")
    assert [t.state for t in second.tasks] == ["CACHED", "CACHED"]
    assert second.outputs == first.outputs
    assert [(m.key, m.value) for m in backend.metrics(second.id)] == [("rows", 5.0)]
    row2 = backend.get_run(second.id)
    tuning = backend.experiment_by_name("tuning", create=False)
    assert row2 is not None and tuning is not None
    assert row2.display_name == "second try" and row2.experiment_id == tuning.id
    assert [r.id for r in backend.list_runs(experiment_id=tuning.id)] == [second.id]
