"""Admission by resource requests: a task starts only when its CPU, memory and GPUs fit."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from flowyard.executors.base import Resources


class ResourcePool:
    def __init__(self, cpu: float, memory: int, gpus: int) -> None:
        self.cpu, self.memory, self.gpus = cpu, memory, gpus
        self._free_cpu, self._free_mem = cpu, memory
        self._free_gpus = list(range(gpus))
        self._cond: asyncio.Condition | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def clamp(self, req: Resources) -> tuple[Resources, str | None]:
        """A request larger than the whole machine would wait forever (Kubernetes leaves such
        a pod Pending); here it is cut to what the machine has, and the caller is told why."""
        notes = []
        cpu, memory, gpu = req.cpu, req.memory, req.gpu
        if cpu > self.cpu:
            notes.append(f"requests {cpu:g} CPUs, this machine has {self.cpu:g}")
            cpu = self.cpu
        if memory > self.memory:
            notes.append(f"requests {memory / 2**30:.1f} GiB of memory, this machine has "
                         f"{self.memory / 2**30:.1f} GiB")
            memory = self.memory
        if gpu > self.gpus:
            notes.append(f"requests {gpu} GPU(s), this machine has {self.gpus}")
            gpu = self.gpus
        if not notes:
            return req, None
        why = "; ".join(notes) + ": running it with what there is"
        return replace(req, cpu=cpu, memory=memory, gpu=gpu), why

    def _condition(self) -> asyncio.Condition:
        loop = asyncio.get_running_loop()
        if self._cond is None or self._loop is not loop:
            self._cond, self._loop = asyncio.Condition(), loop
        return self._cond

    def _fits(self, req: Resources) -> bool:
        return (req.cpu <= self._free_cpu + 1e-9 and req.memory <= self._free_mem
                and req.gpu <= len(self._free_gpus))

    def why_not(self, req: Resources) -> str | None:
        """None if `req` fits now; else what is short, as a Pending pod's message says it."""
        req, _ = self.clamp(req)
        short = []
        if req.cpu > self._free_cpu + 1e-9:
            short.append(f"Insufficient cpu ({req.cpu:g} requested, {self._free_cpu:g} free)")
        if req.memory > self._free_mem:
            short.append(f"Insufficient memory ({req.memory} bytes requested, "
                         f"{self._free_mem} free)")
        if req.gpu > len(self._free_gpus):
            short.append(f"Insufficient nvidia.com/gpu ({req.gpu} requested, "
                         f"{len(self._free_gpus)} free of {self.gpus})")
        return "; ".join(short) or None

    def take(self, req: Resources, gpus: list[int]) -> list[int]:
        """Count a work that already runs (adopted after a restart) without waiting: the
        machine is what it is; later works wait until it is given back."""
        req, _ = self.clamp(req)
        self._free_cpu -= req.cpu
        self._free_mem -= req.memory
        held = [g for g in gpus if g in self._free_gpus]
        for g in held:
            self._free_gpus.remove(g)
        while len(held) < req.gpu and self._free_gpus:
            held.append(self._free_gpus.pop(0))
        return held

    async def acquire(self, req: Resources) -> list[int]:
        """Wait until `req` fits; returns the GPU indices handed to the task."""
        req, _ = self.clamp(req)
        cond = self._condition()
        async with cond:
            await cond.wait_for(lambda: self._fits(req))
            self._free_cpu -= req.cpu
            self._free_mem -= req.memory
            gpus, self._free_gpus = self._free_gpus[: req.gpu], self._free_gpus[req.gpu :]
            return gpus

    async def release(self, req: Resources, gpus: list[int]) -> None:
        cond = self._condition()
        async with cond:
            self._free_cpu += req.cpu
            self._free_mem += req.memory
            self._free_gpus.extend(gpus)
            cond.notify_all()
