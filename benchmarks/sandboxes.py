#!/usr/bin/env python3
"""What a pod's sandbox costs: create_sandbox (network namespace, veth to the bridge, hosts
files; or a loopback address where namespaces are not available) and a command's start to its
exit with and without joining one, against starting the same command with subprocess (the
floor). Kubernetes' goal: a pod adds at most 20 ms to its command's own start.

    python benchmarks/sandboxes.py [--n 10]
"""

import argparse
import asyncio
import os
import statistics
import subprocess
import tempfile
import time
import uuid

from flowyard.executors import get_executor
from flowyard.executors.base import LogRef, Resources, Work
from flowyard.executors.network import can_use_netns


def ms(xs: list[float]) -> str:
    return f"{statistics.median(xs) * 1000:7.1f} ms"


async def main(n: int) -> None:
    ex = get_executor()
    ids = [f"bench{uuid.uuid4().hex[:8]}" for _ in range(n)]
    create: list[float] = []
    remove: list[float] = []
    plain: list[float] = []
    joined: list[float] = []
    floor: list[float] = []
    try:
        for i in ids:
            t = time.perf_counter()
            await ex.create_sandbox(i, i)
            create.append(time.perf_counter() - t)
        for k, i in enumerate(ids):
            for sandbox, out in ((None, plain), (i, joined)):
                w = Work(f"{i}-{k}-{sandbox is not None}", ["true"], dict(os.environ), "",
                         log=LogRef(("bench", i, str(sandbox is not None))), sandbox=sandbox,
                         resources=Resources(cpu=0.01))
                t = time.perf_counter()
                h = await ex.submit(w)
                await h.wait_exit()
                out.append(time.perf_counter() - t)
                await ex.release(h)
            t = time.perf_counter()
            subprocess.run(["true"], check=True)
            floor.append(time.perf_counter() - t)
    finally:
        for i in ids:
            t = time.perf_counter()
            await ex.remove_sandbox(i)
            remove.append(time.perf_counter() - t)
    mode = "network namespace" if can_use_netns() else "loopback address"
    print(f"sandbox kind: {mode}; median of {n}")
    print(f"  create_sandbox                      {ms(create)}")
    print(f"  remove_sandbox                      {ms(remove)}")
    print(f"  `true` via subprocess (floor)       {ms(floor)}")
    print(f"  `true` as a work, no sandbox        {ms(plain)}")
    print(f"  `true` as a work in a sandbox       {ms(joined)}")
    extra = statistics.median(joined) - statistics.median(floor)
    print(f"  a sandboxed work over the floor     {extra * 1000:7.1f} ms (goal: <= 20 ms; "
          "create_sandbox is paid once per pod, not per container start)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10)
    args = parser.parse_args()
    os.environ.setdefault("FLOWYARD_HOME", tempfile.mkdtemp(prefix="fy-bench-"))
    asyncio.run(main(args.n))
