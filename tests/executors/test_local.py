"""The local executor through its interface: supervisors that outlive the engine, adoption,
exits as Kubernetes reports them, memory limits, GPUs, and the backend registry."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from flowyard.executors import get_executor, state
from flowyard.executors.base import LogPolicy, LogRef, Resources, Work
from flowyard.executors.local import LocalExecutor


def _work(task_id: str, script: str, **kw: object) -> Work:
    return Work(task_id, ["sh", "-c", script], dict(os.environ), "",
                log=LogRef(("pods", "default", task_id, "main")), **kw)  # type: ignore[arg-type]


def _read(ex: LocalExecutor, ref: LogRef, **kw: object) -> bytes:
    async def go() -> bytes:
        return b"".join([c async for c in ex.read_log(ref, **kw)])  # type: ignore[arg-type]

    return asyncio.run(go())


def test_exit_codes_signals_and_the_recorded_exit() -> None:
    ex = get_executor()

    async def go() -> None:
        h = await ex.submit(_work("exits-3", "echo out; echo err >&2; exit 3"))
        e = await h.wait_exit()
        assert (e.code, e.signal, e.oom_killed, e.reason) == (3, None, False, "Error")
        assert e.started_at and e.finished_at and e.finished_at >= e.started_at
        assert await h.wait() == 3 and not h.alive()
        await ex.release(h)
        h = await ex.submit(_work("sleeps", "sleep 30"))
        assert h.alive()
        h.cancel(grace_s=0.2)
        e = await h.wait_exit()
        assert (e.code, e.signal) == (128 + signal.SIGTERM, signal.SIGTERM)
        await ex.release(h)

    asyncio.run(go())
    assert _read(ex, LogRef(("pods", "default", "exits-3", "main"))) == b"out\nerr\n"


def test_a_term_ignoring_work_is_killed_after_its_grace() -> None:
    ex = get_executor()

    async def go() -> None:
        h = await ex.submit(_work("stubborn", "trap '' TERM; echo ready; sleep 30 & wait; "
                                  "sleep 30"))
        await asyncio.sleep(0.3)
        h.cancel(grace_s=0.3)
        e = await h.wait_exit()
        assert (e.code, e.signal) == (137, signal.SIGKILL)
        assert not e.oom_killed  # killed, but not by the OOM killer
        await ex.release(h)

    asyncio.run(go())


def test_twice_the_same_running_work_is_refused() -> None:
    ex = get_executor()

    async def go() -> None:
        h = await ex.submit(_work("once-only", "sleep 30"))
        with pytest.raises(RuntimeError, match="already running"):
            await ex.submit(_work("once-only", "echo again"))
        h.cancel(0)
        await h.wait_exit()
        await ex.release(h)

    asyncio.run(go())


def test_bad_task_ids_are_refused() -> None:
    ex = get_executor()
    for bad in ("../x", ".hidden", "a/b", ""):
        with pytest.raises(ValueError, match="task_id"):
            asyncio.run(ex.submit(Work(bad, ["true"], {}, "/tmp/never.log")))


ENGINE = '''
import asyncio, os, sys
from flowyard.executors import get_executor
from flowyard.executors.base import LogRef, Work

async def main():
    ex = get_executor()
    w = Work("survivor", ["sh", "-c", "echo started; while [ ! -e %(flag)s ]; do sleep 0.05; done;"
             " echo finished; exit 7"], dict(os.environ), "",
             log=LogRef(("pods", "default", "survivor", "main")))
    h = await ex.submit(w)
    print(h.pid, flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
'''


def test_the_work_outlives_its_engine_and_is_adopted(tmp_path: Path) -> None:
    """SIGKILL of the engine and its zygote: the work goes on under its supervisor; a new
    engine adopts the same process, then learns its exit."""
    flag = tmp_path / "flag"
    engine = subprocess.Popen([sys.executable, "-c", ENGINE % {"flag": flag}],
                              stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert engine.stdout is not None
    pid = int(engine.stdout.readline())
    os.killpg(engine.pid, signal.SIGKILL)  # the engine and its zygote, as a crash
    engine.wait()
    assert state.start_time(pid) is not None  # still running
    ex = get_executor()

    async def go() -> None:
        h = await ex.adopt(Work("survivor", [], {}, ""))
        assert h is not None and h.pid == pid and h.alive()
        flag.touch()
        e = await h.wait_exit()
        assert e.code == 7
        await ex.release(h)
        assert await ex.adopt(Work("survivor", [], {}, "")) is None  # released: forgotten

    asyncio.run(go())
    assert _read(ex, LogRef(("pods", "default", "survivor", "main"))) == b"started\nfinished\n"


def test_an_exit_while_nobody_watched_is_adopted_as_finished(tmp_path: Path) -> None:
    ex = get_executor()

    async def go() -> None:
        h = await ex.submit(_work("quick", "exit 0"))
        await h.wait_exit()
        # A new engine (no memory of the handle) finds the recorded exit.
        again = await LocalExecutor().adopt(Work("quick", [], {}, ""))
        assert again is not None and not again.alive()
        assert (await again.wait_exit()).code == 0
        assert await ex.adopt(Work("never-started", [], {}, "")) is None
        await ex.release(h)  # the shared executor's CPUs are for the tests that follow

    asyncio.run(go())


def test_a_reused_pid_is_not_taken_for_the_supervisor(fy_home: Path) -> None:
    """The record names a live pid (ours) but another start time: that process is not the
    supervisor, so the work is gone and adopt() says so."""
    folder = state.state_dir(fy_home, "reused")
    folder.mkdir(parents=True)
    me = os.getpid()
    state.write_json(folder / state.SUPERVISOR, {"pid": me, "pid_start": state.start_time(me) - 1,
                                                  "work_pid": me, "work_start": 1})
    assert asyncio.run(get_executor().adopt(Work("reused", [], {}, ""))) is None
    assert not folder.exists()


def test_a_work_over_its_memory_limit_is_oomkilled() -> None:
    ex = get_executor()
    hog = Work("hog", [sys.executable, "-c", "x = [bytearray(2**20) for _ in range(600)]"],
               dict(os.environ), "", resources=Resources(memory_limit=128 * 2**20),
               log=LogRef(("pods", "default", "hog", "main")))

    async def go() -> None:
        h = await ex.submit(hog)
        e = await h.wait_exit()
        assert e.oom_killed and e.code == 137 and e.reason == "OOMKilled"
        await ex.release(h)

    asyncio.run(go())
    assert b"OOMKilled" in _read(ex, LogRef(("pods", "default", "hog", "main")))


def test_gpus_are_distinct_and_a_work_waits_for_a_free_one(monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    monkeypatch.setenv("FLOWYARD_GPUS", "2")
    ex = LocalExecutor()
    one = Resources(cpu=0.1, gpu=1)

    async def go() -> None:
        handles = []
        for i in range(2):
            handles.append(await ex.submit(_work(f"gpu-{i}", "echo $CUDA_VISIBLE_DEVICES; "
                                                 "sleep 30", resources=one)))
        assert sorted(h.gpus for h in handles) == [[0], [1]]
        why = ex.fits(one)
        assert why is not None and "nvidia.com/gpu" in why
        third = asyncio.ensure_future(ex.submit(_work("gpu-2", "echo $CUDA_VISIBLE_DEVICES",
                                                      resources=one)))
        await asyncio.sleep(0.3)
        assert not third.done()  # Pending: admission waits
        handles[1].cancel(0)
        await handles[1].wait_exit()
        await ex.release(handles[1])
        h3 = await asyncio.wait_for(third, 10)
        assert h3.gpus == handles[1].gpus or h3.gpus == [1]
        await h3.wait_exit()
        await ex.release(h3)
        handles[0].cancel(0)
        await handles[0].wait_exit()
        await ex.release(handles[0])
        assert ex.fits(one) is None

    asyncio.run(go())
    logs = {i: _read(ex, LogRef(("pods", "default", f"gpu-{i}", "main"))).strip()
            for i in range(3)}
    assert {logs[0], logs[1]} == {b"0", b"1"}
    assert logs[2] == b"1"


def test_the_registry_imports_only_the_backend_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    code = textwrap.dedent("""
        import sys
        import flowyard.executors, flowyard.pipelines.runner
        assert "flowyard.executors.local" not in sys.modules, "imported without being chosen"
        from flowyard.executors import get_executor
        get_executor()
        assert "flowyard.executors.local" in sys.modules
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr
    monkeypatch.setenv("FLOWYARD_EXECUTOR", "nope")
    with pytest.raises(ValueError, match=r"FLOWYARD_EXECUTOR='nope'.*local"):
        get_executor()


def test_a_restarted_container_keeps_its_previous_log() -> None:
    ex = get_executor()
    ref = LogRef(("pods", "default", "restarts", "main"))

    async def go() -> None:
        for n in range(2):
            w = Work(f"restarts-{n}", ["sh", "-c", f"echo run {n}"], dict(os.environ), "",
                     log=ref)
            h = await ex.submit(w)
            await h.wait_exit()
            await ex.release(h)

    asyncio.run(go())
    assert _read(ex, ref) == b"run 1\n"
    assert _read(ex, ref, previous=True) == b"run 0\n"


def test_state_records_are_whole_json(fy_home: Path) -> None:
    folder = fy_home / "x"
    folder.mkdir(parents=True)
    state.write_json(folder / "a.json", {"k": 1})
    assert json.loads((folder / "a.json").read_text()) == {"k": 1}
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_policy_mask_reaches_the_log() -> None:
    ex = get_executor()
    ref = LogRef(("pods", "default", "masked", "main"))

    async def go() -> None:
        w = Work("masked", ["sh", "-c", "printf 'token=hunt'; sleep 0.2; printf 'er2 ok\\n'"],
                 dict(os.environ), "", log=ref, log_policy=LogPolicy(mask=["hunter2"]))
        h = await ex.submit(w)
        await h.wait_exit()
        await ex.release(h)

    asyncio.run(go())
    assert _read(ex, ref) == b"token=*** ok\n"


def test_works_side_by_side_each_get_their_own_log_and_exit() -> None:
    """One supervisor pumps many works at once: every log holds its own work's lines only,
    in order, and every exit is its own."""
    ex = get_executor()
    n = 6

    async def go() -> list[int]:
        handles = [await ex.submit(_work(f"side-{i}", f"for k in 1 2 3 4 5; do echo {i}-$k; "
                                         f"sleep 0.0{i}; done; exit {i}",
                                         resources=Resources(cpu=0.01)))
                   for i in range(n)]
        codes = [(await h.wait_exit()).code for h in handles]
        for h in handles:
            await ex.release(h)
        return codes

    assert asyncio.run(go()) == list(range(n))
    for i in range(n):
        log = _read(ex, LogRef(("pods", "default", f"side-{i}", "main")))
        assert log == b"".join(f"{i}-{k}\n".encode() for k in range(1, 6))


def test_a_work_whose_supervisor_is_killed_is_stopped_and_reads_as_killed() -> None:
    """SIGKILL of the supervisor (the zygote the work was forked from): nobody could record
    the work's end, so the work is stopped and its wait says killed, not hung."""
    ex = LocalExecutor()  # zygotes of its own: the shared executor's stay up for other tests

    async def go() -> None:
        h = await ex.submit(_work("orphaned", "sleep 30", resources=Resources(cpu=0.01)))
        assert h.alive()
        supervisor = ex.exec_zygote._proc
        assert supervisor is not None
        supervisor.kill()
        e = await asyncio.wait_for(h.wait_exit(), 20)
        assert (e.code, e.signal) == (137, signal.SIGKILL)
        await ex.release(h)
        for _ in range(100):  # the work is gone too (SIGKILLed: it goes within moments)
            if state.start_time(h.pid or 0) is None:
                break
            await asyncio.sleep(0.05)
        assert state.start_time(h.pid or 0) is None
        again = await ex.submit(_work("after", "exit 4", resources=Resources(cpu=0.01)))
        assert (await again.wait_exit()).code == 4  # a new supervisor took over
        await ex.release(again)

    asyncio.run(go())
