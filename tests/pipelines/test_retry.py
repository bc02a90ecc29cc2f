"""retryPolicy: a component that fails its first N attempts succeeds when `set_retry` allows
enough retries, fails when they run out, and every attempt is recorded. The attempt counter is
a file outside the artifact root whose path is a parameter."""

from pathlib import Path

from kfp import dsl

import flowyard
from flowyard.store import open_store


@dsl.component
def flaky(counter: str, fail_times: int) -> int:
    import os

    n = 1
    if os.path.exists(counter):
        with open(counter) as f:
            n = len(f.read().splitlines()) + 1
    with open(counter, "a") as f:
        f.write("attempt\n")
    if n <= fail_times:
        raise RuntimeError(f"flaky attempt {n} failed on purpose")
    return n


@dsl.container_component
def flaky_shell(counter: str, fail_times: int, out: dsl.OutputPath(str)):
    return dsl.ContainerSpec(
        image="alpine:3",
        command=["sh", "-c",
                 'echo x >> "$0"; n=$(wc -l < "$0"); '
                 'if [ "$n" -le "$1" ]; then echo "shell attempt $n failed" >&2; exit 3; fi; '
                 'echo "$n" > "$2"'],
        args=[counter, fail_times, out],
    )


def attempts(counter: Path) -> int:
    return len(counter.read_text().splitlines()) if counter.exists() else 0


def test_retries_until_success(tmp_path: Path) -> None:
    counter = tmp_path / "attempts.txt"

    @dsl.pipeline
    def p(counter: str) -> int:
        return flaky(counter=counter, fail_times=2).set_retry(
            num_retries=3, backoff_duration="0s", backoff_factor=2).output

    run = flowyard.run(p, arguments={"counter": str(counter)})
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs == {"Output": 3}
    assert attempts(counter) == 3
    task = open_store().get_task(run.task("flaky").id)
    assert task is not None and task.attempts == 3 and task.error is None
    log = run.logs("flaky")
    assert "flaky attempt 1 failed on purpose" in log
    assert "attempt 3 of 4" in log
    retries = [e for e in open_store().events(run.id) if e.reason == "Retrying"]
    assert len(retries) == 2


def test_fails_when_retries_are_exhausted(tmp_path: Path) -> None:
    counter = tmp_path / "attempts.txt"

    @dsl.pipeline
    def p(counter: str):
        flaky(counter=counter, fail_times=10).set_retry(num_retries=2)

    run = flowyard.run(p, arguments={"counter": str(counter)})
    assert run.state == "FAILED"
    assert attempts(counter) == 3  # the first try and two retries, no more
    task = open_store().get_task(run.task("flaky").id)
    assert task is not None and task.state == "FAILED" and task.attempts == 3
    assert "flaky attempt 3 failed on purpose" in (task.error or "")


def test_without_retry_policy_one_attempt(tmp_path: Path) -> None:
    counter = tmp_path / "attempts.txt"

    @dsl.pipeline
    def p(counter: str):
        flaky(counter=counter, fail_times=1)

    run = flowyard.run(p, arguments={"counter": str(counter)})
    assert run.state == "FAILED"
    assert attempts(counter) == 1


def test_container_component_retry(tmp_path: Path) -> None:
    counter = tmp_path / "attempts.txt"

    @dsl.pipeline
    def p(counter: str) -> str:
        return flaky_shell(counter=counter, fail_times=1).set_retry(num_retries=1).output

    run = flowyard.run(p, arguments={"counter": str(counter)})
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs["Output"].strip() == "2"
    assert "shell attempt 1 failed" in run.logs("flaky-shell")
    assert attempts(counter) == 2


def test_downstream_waits_for_the_retried_task(tmp_path: Path) -> None:
    counter = tmp_path / "attempts.txt"

    @dsl.component
    def plus_one(x: int) -> int:
        return x + 1

    @dsl.pipeline
    def p(counter: str) -> int:
        first = flaky(counter=counter, fail_times=1).set_retry(num_retries=1)
        return plus_one(x=first.output).output

    run = flowyard.run(p, arguments={"counter": str(counter)})
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs == {"Output": 3}


def test_backoff_as_compiled_by_kfp() -> None:
    from flowyard.pipelines.loader import load_pipeline
    from flowyard.pipelines.retry import RetryPolicy

    @dsl.pipeline
    def p(counter: str):
        flaky(counter=counter, fail_times=0).set_retry(
            num_retries=4, backoff_duration="1s", backoff_factor=2, backoff_max_duration="3s")

    spec = load_pipeline(p).spec["root"]["dag"]["tasks"]["flaky"]["retryPolicy"]
    policy = RetryPolicy.from_spec(spec)
    assert policy.max_retries == 4
    assert [policy.delay(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 3.0, 3.0]
