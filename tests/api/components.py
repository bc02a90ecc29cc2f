"""Pipelines the API tests run. kfp embeds each component's source in the compiled IR, so
the server executes exactly this code. (No `from __future__ import annotations`: kfp reads
the annotations as types.)"""

from kfp import dsl


@dsl.component
def add(a: int, b: int) -> int:
    return a + b


@dsl.component
def nap(seconds: float) -> str:
    import time

    time.sleep(seconds)
    return "woke"


@dsl.component
def mark(path: str, text: str) -> str:
    with open(path, "a") as f:
        f.write(text + "\n")
    return text


@dsl.component
def slow_mark(path: str, text: str, after: str) -> str:
    """Sleeps long the first time only: the attempt a crash interrupts."""
    import os
    import time

    first = not os.path.exists(path + ".slow")
    with open(path + ".slow", "a") as f:
        f.write("x\n")
    if first:
        time.sleep(60)
    with open(path, "a") as f:
        f.write(text + "\n")
    return after + text


@dsl.pipeline(name="adder")
def adder(x: int = 1, y: int = 2) -> int:
    first = add(a=x, b=y)
    return add(a=first.output, b=y).output


@dsl.pipeline(name="sleeper")
def sleeper(seconds: float = 120.0) -> str:
    return nap(seconds=seconds).output


@dsl.pipeline(name="two-steps")
def two_steps(path: str) -> str:
    first = mark(path=path, text="first")
    return slow_mark(path=path, text="second", after=first.output).output


@dsl.pipeline(name="one-step")
def one_step(x: int = 1) -> int:
    return add(a=x, b=1).output


@dsl.component
def flaky(path: str) -> str:
    """Fails the first time it runs, succeeds after: what a retry is for."""
    import os

    if not os.path.exists(path):
        open(path, "w").close()
        raise RuntimeError("first attempt fails")
    return "ok"


@dsl.pipeline(name="flaky")
def flaky_pipeline(path: str, marks: str) -> str:
    first = mark(path=marks, text="before")
    done = flaky(path=path)
    done.after(first)
    return done.output
