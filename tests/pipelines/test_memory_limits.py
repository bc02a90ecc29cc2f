"""Memory limits are enforced (issue 8, item 11): a component that allocates past its
`set_memory_limit` is OOMKilled, as Kubernetes reports it, and the task's error says so."""

# No `from __future__ import annotations`: kfp reads the component annotations as types.
from kfp import dsl

import flowyard


@dsl.component
def hog(mib: int) -> int:
    chunks = []
    for _ in range(mib):
        chunks.append(bytearray(2**20))  # touched: counted against the limit
    return len(chunks)


def test_over_its_memory_limit_a_task_is_oomkilled() -> None:
    @dsl.pipeline
    def greedy() -> None:
        hog(mib=1024).set_memory_limit("256M")

    run = flowyard.run(greedy)
    assert run.state == "FAILED"
    task = run.task("hog")
    assert task.state == "FAILED"
    assert task.error is not None and task.error.startswith("OOMKilled")
    assert "256000000 bytes" in task.error or "256M" in task.error
    assert "exit code 137" in task.error


def test_within_its_memory_limit_a_task_succeeds() -> None:
    @dsl.pipeline
    def modest() -> int:
        return hog(mib=32).set_memory_limit("512M").output

    run = flowyard.run(modest)
    assert run.state == "SUCCEEDED", run.error
    assert run.outputs == {"Output": 32}
