"""The kubelet's process-wide part: one worker per pod, binding pods to this machine one at a
time against what is free, and stopping (or keeping) pods when the control plane stops."""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import TYPE_CHECKING, Any

from flowyard.controllers.pods import scheduling as sched
from flowyard.controllers.pods import status as st
from flowyard.controllers.pods.volumes import cleanup, pod_dir

if TYPE_CHECKING:
    from flowyard.controllers.context import Context
    from flowyard.controllers.pods.worker import PodWorker

UNSCHEDULABLE_RETRY_S = 1.0


def keep_pods() -> bool:
    """FLOWYARD_KEEP_PODS: a clean stop of the control plane leaves pods running (their
    supervisors keep them), to be adopted by the next start."""
    return os.environ.get("FLOWYARD_KEEP_PODS", "").lower() in ("1", "true", "yes")


def shutdown_grace_s() -> float:
    return float(os.environ.get("FLOWYARD_SHUTDOWN_GRACE_SECONDS") or 10)


class Kubelet:
    def __init__(self) -> None:
        self.workers: dict[str, PodWorker] = {}
        self._bind_lock = asyncio.Lock()
        self._capacity: sched.Requests | None = None
        self._removals: set[asyncio.Future[bool]] = set()

    def capacity(self, ctx: Context) -> sched.Requests:
        if self._capacity is None:
            self._capacity = sched.capacity(ctx.executor)
        return self._capacity

    def forget(self, worker: PodWorker) -> None:
        if self.workers.get(worker.uid) is worker:
            del self.workers[worker.uid]

    async def bind(self, worker: PodWorker) -> bool:
        """Bind the pod to this machine once its requests fit next to the pods bound already
        (what kube-scheduler does); until then it stays Pending, Unschedulable."""
        ctx, pod = worker.ctx, worker.pod
        if sched.bound(pod):
            return True
        want = sched.pod_requests(pod.get("spec") or {})
        reported = False
        while not worker.stopping.is_set():
            # A pod that requests nothing fits whatever is bound: it neither waits for the
            # other binds nor reads every pod (a list that grows with finished pods).
            free = not (want.cpu or want.memory or want.gpu)
            async with contextlib.nullcontext() if free else self._bind_lock:
                missing: list[str] = []
                if not free:
                    pods = await ctx.objects.list("", "pods")
                    used = sched.Requests()
                    for other in pods:
                        if other["metadata"]["uid"] != worker.uid and sched.bound(other) and \
                                not sched.terminal(other):
                            used = used + sched.pod_requests(other.get("spec") or {})
                    missing = sched.insufficient(want, self.capacity(ctx), used)
                if not missing:
                    spec = {**(pod.get("spec") or {}), "nodeName": sched.NODE}
                    written = await ctx.objects.update({**pod, "spec": spec}, check=False)
                    if written is None:
                        return False  # deleted meanwhile
                    worker.pod = written
                    worker.status = dict(written.get("status") or {})
                    worker.status["phase"] = "Pending"
                    st.set_condition(worker.status, "PodScheduled", True)
                    await worker.event("Normal", "Scheduled", f"Successfully assigned "
                                       f"{worker.ns}/{worker.name} to {sched.NODE}")
                    return True
            if not reported:
                message = sched.unschedulable_message(missing)
                status = dict(worker.pod.get("status") or {})
                status["phase"] = "Pending"
                status.setdefault("qosClass", st.qos_class(pod.get("spec") or {}))
                st.set_condition(status, "PodScheduled", False, "Unschedulable", message)
                written = await ctx.objects.write_status(worker.pod, status)
                if written is not None:
                    worker.pod = written
                await worker.event("Warning", "FailedScheduling", message)
                reported = True
            if await worker.sleep(UNSCHEDULABLE_RETRY_S):
                return False
        return False

    def ensure(self, ctx: Context, pod: dict[str, Any]) -> None:
        from flowyard.controllers.pods.worker import PodWorker

        uid = pod["metadata"]["uid"]
        if uid in self.workers:
            return
        worker = PodWorker(self, ctx, pod)
        self.workers[uid] = worker
        worker.task = asyncio.ensure_future(worker.run())

    async def remove(self, ctx: Context, pod: dict[str, Any]) -> bool:
        """A deleted pod: stop its containers gracefully, then its sandbox and files. Also
        after a restart, for a pod deleted while nobody was running it."""
        uid = pod["metadata"]["uid"]
        worker = self.workers.get(uid)
        if worker is None:
            if not pod_dir(uid).exists():
                return False  # no container of it ever started, or it was cleaned up
            from flowyard.controllers.pods.worker import PodWorker

            worker = PodWorker(self, ctx, pod)
            worker.stopping.set()
            await _stop_adopted(worker)
        else:
            await worker.stop(_grace(pod))
        with contextlib.suppress(Exception):
            await ctx.executor.remove_sandbox(f"pod-{uid}")
        await asyncio.to_thread(cleanup, uid)
        return True

    def remove_later(self, ctx: Context, pod: dict[str, Any]) -> None:
        fut = asyncio.ensure_future(self.remove(ctx, pod))
        self._removals.add(fut)
        fut.add_done_callback(self._removals.discard)

    async def shutdown(self, ctx: Context) -> None:
        if self._removals:
            await asyncio.gather(*self._removals, return_exceptions=True)
        workers = list(self.workers.values())
        if keep_pods():
            for w in workers:
                if w.task is not None:
                    w.task.cancel()
            await asyncio.gather(*(w.task for w in workers if w.task), return_exceptions=True)
            return
        grace = shutdown_grace_s()
        await asyncio.gather(*(w.stop(min(w.grace_s, grace)) for w in workers),
                             return_exceptions=True)
        for w in workers:  # the next start makes them again (same id, same address if free)
            with contextlib.suppress(Exception):
                await ctx.executor.remove_sandbox(w.sandbox_id)


def _grace(pod: dict[str, Any]) -> float | None:
    meta = pod.get("metadata") or {}
    if meta.get("deletionGracePeriodSeconds") is not None:
        return float(meta["deletionGracePeriodSeconds"])
    return None


async def _stop_adopted(worker: PodWorker) -> None:
    """Containers of a pod no worker runs (deleted while the control plane was down)."""
    ex = worker.ctx.executor
    for run in [*worker.inits, *worker.mains]:
        with contextlib.suppress(Exception):
            work = await run.work()
            handle = await ex.adopt(work)
            if handle is not None:
                if handle.alive():
                    handle.cancel(worker.grace_s)
                    await handle.wait_exit()
                await ex.release(handle)
