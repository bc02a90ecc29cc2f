"""One pod's life on this machine, as the kubelet's pod worker lives it: bind, sandbox,
volumes, init containers in order (sidecars keep running), then the containers; status
written after each change. Everything it knows is in the stored status, so a new worker
after a restart takes up where the last left off (adopting the same processes)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

from flowyard.config import settings
from flowyard.controllers.pods import status as st
from flowyard.controllers.pods.containers import ContainerRun
from flowyard.controllers.pods.env import ConfigError, allocatable_of
from flowyard.controllers.pods.volumes import prepare
from flowyard.store.resources import Key

if TYPE_CHECKING:
    from flowyard.controllers.context import Context
    from flowyard.controllers.pods.kubelet import Kubelet

log = logging.getLogger("flowyard.kubelet")
DEFAULT_GRACE_S = 30.0


def _host_ip(pod_ip: str) -> str:
    """The node's address as the pod reaches it: the bridge (the pods' gateway) when the pod
    has its own network namespace, else the host's loopback, which the pod shares."""
    import ipaddress

    from flowyard.executors import network

    cidr = network.pod_cidr()
    if ipaddress.ip_address(pod_ip) in cidr:
        return str(cidr.network_address + 1)
    return "127.0.0.1"


class PodWorker:
    def __init__(self, kubelet: Kubelet, ctx: Context, pod: dict[str, Any]) -> None:
        self.kubelet, self.ctx, self.pod = kubelet, ctx, pod
        meta, spec = pod["metadata"], pod.get("spec") or {}
        self.uid: str = meta["uid"]
        self.name: str = meta["name"]
        self.ns: str = meta.get("namespace") or "default"
        self.key = Key("", "pods", self.ns, self.name)
        self.restart_policy: str = spec.get("restartPolicy") or "Always"
        grace = spec.get("terminationGracePeriodSeconds")
        self.grace_s = float(DEFAULT_GRACE_S if grace is None else grace)
        self.stopping = asyncio.Event()
        self.sandbox_id = f"pod-{self.uid}"
        self.ip = ""
        self.volumes: dict[str, tuple[str, bool]] = {}
        self.services_at_start: list[dict[str, Any]] = []
        self.allocatable: dict[str, float] = {}
        saved = {c["name"]: c for c in (pod.get("status") or {}).get("containerStatuses") or []}
        saved_init = {c["name"]: c for c in
                      (pod.get("status") or {}).get("initContainerStatuses") or []}
        self.inits = [ContainerRun(self, c, True) for c in spec.get("initContainers") or []]
        self.mains = [ContainerRun(self, c, False) for c in spec.get("containers") or []]
        for run in self.inits:
            if run.name in saved_init:
                run.restore(saved_init[run.name])
        for run in self.mains:
            if run.name in saved:
                run.restore(saved[run.name])
        self.status: dict[str, Any] = dict(pod.get("status") or {})
        self._write_lock = asyncio.Lock()
        self.task: asyncio.Task[None] | None = None
        self._side_tasks: list[asyncio.Future[None]] = []
        self._sandbox_fut: asyncio.Future[Any] | None = None
        self.deadline_passed = False

    # helpers -----------------------------------------------------------------------------
    def image_policy(self, image: str) -> Any:
        from flowyard.pipelines.images import policy_for

        return policy_for(image, settings().home)

    async def event(self, type_: str, reason: str, message: str) -> None:
        await self.ctx.objects.event(self.pod, type_, reason, message)

    async def sleep(self, seconds: float) -> bool:
        """Sleep, or return True at once when the pod is being stopped."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)
        return self.stopping.is_set()

    # status ------------------------------------------------------------------------------
    def _init_state(self) -> tuple[bool, bool]:
        """(all init containers done, one failed for good)."""
        done = True
        for run in self.inits:
            if run.sidecar:
                done = done and run.started
            elif not run.finished_ok:
                done = False
                term = run.state.get("terminated")
                if term and self.restart_policy == "Never":
                    return False, True
        return done, False

    def build_status(self) -> dict[str, Any]:
        status = dict(self.status)
        spec = self.pod.get("spec") or {}
        init_done, init_failed = self._init_state()
        phase = st.phase(self.restart_policy, init_done, init_failed,
                         [r.status() for r in self.mains])
        if phase in ("Succeeded", "Failed") and any(
                r.sidecar and "running" in r.state for r in self.inits):
            phase = "Running"  # the pod ends once its sidecars are stopped too
        if status.get("reason") == "DeadlineExceeded":
            phase = "Failed"
        status["phase"] = phase
        status["qosClass"] = st.qos_class(spec)
        if self.inits:
            status["initContainerStatuses"] = [r.status() for r in self.inits]
        status["containerStatuses"] = [r.status() for r in self.mains]
        pending_init = [r.name for r in self.inits if not (r.finished_ok or
                                                            (r.sidecar and r.started))]
        st.set_condition(status, "Initialized", init_done, None if init_done else
                         "ContainersNotInitialized", None if init_done else
                         f"containers with incomplete status: [{' '.join(pending_init)}]")
        unready = [r.name for r in self.mains if not r.ready]
        unready += [r.name for r in self.inits if r.sidecar and not r.ready]
        ready = not unready and phase == "Running"
        if phase in ("Succeeded", "Failed"):
            reason, message = "PodCompleted", None
        else:
            reason = None if ready else "ContainersNotReady"
            message = None if ready else f"containers with unready status: [{' '.join(unready)}]"
        st.set_condition(status, "ContainersReady", ready, reason, message)
        st.set_condition(status, "Ready", ready, reason, message)
        if phase in ("Succeeded", "Failed"):
            st.set_condition(status, "PodReadyToStartContainers", False)
        return status

    async def publish(self) -> None:
        async with self._write_lock:
            status = self.build_status()
            if status == (self.pod.get("status") or {}):
                return
            self.status = status
            written = await self.ctx.objects.write_status(self.pod, status)
            if written is not None:
                self.pod = written

    # the life of the pod -----------------------------------------------------------------
    async def run(self) -> None:
        hostname = (self.pod.get("spec") or {}).get("hostname") or self.name
        # The sandbox is made while the pod is bound: its network setup is the slow part of
        # a pod's start, and the same id gives the same sandbox again.
        self._sandbox_fut = asyncio.ensure_future(
            self.ctx.executor.create_sandbox(self.sandbox_id, hostname))
        try:
            if not await self.kubelet.bind(self):
                return
            await self._sandbox()
            deadline = (self.pod.get("spec") or {}).get("activeDeadlineSeconds")
            if deadline:
                self._side_tasks.append(asyncio.ensure_future(self._deadline(float(deadline))))
            if not await self._prepare_volumes():
                return
            if not await self._run_inits():
                await self.publish()
                return
            await self._run_mains()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("pod %s/%s: worker failed", self.ns, self.name)
            self.ctx.enqueue(self.key, 5.0)
        finally:
            for task in self._side_tasks:  # the deadline timer; sidecars have ended by now
                if not task.done():
                    task.cancel()
            if self._sandbox_fut is not None and not self._sandbox_fut.done():
                with contextlib.suppress(Exception):
                    await self._sandbox_fut  # made either way: its removal must find it
            self.kubelet.forget(self)

    async def _sandbox(self) -> None:
        ex = self.ctx.executor
        from flowyard.controllers import dns

        services, pods, sandbox = await asyncio.gather(
            self.ctx.objects.list("", "services"), self.ctx.objects.list("", "pods"),
            self._sandbox_fut)
        self.ip = sandbox.ip
        host_ip = getattr(sandbox, "host_ip", None) or _host_ip(sandbox.ip)
        status = self.status
        status["hostIP"], status["hostIPs"] = host_ip, [{"ip": host_ip}]
        status["podIP"], status["podIPs"] = sandbox.ip, [{"ip": sandbox.ip}]
        status.setdefault("startTime", st.rfc3339())
        st.set_condition(status, "PodReadyToStartContainers", True)
        self.pod = {**self.pod, "status": {**(self.pod.get("status") or {}), **status}}
        self.services_at_start = [s for s in services
                                  if (s["metadata"].get("namespace") or "default") == self.ns]
        await ex.set_hosts(self.sandbox_id, dns.table(services, pods, self.pod, sandbox.ip))
        self.allocatable = allocatable_of(self.kubelet.capacity(self.ctx))

    async def _prepare_volumes(self) -> bool:
        while not self.stopping.is_set():
            try:
                self.volumes = await prepare(self.pod, self.ctx.objects, self.ctx.store)
                return True
            except ConfigError as exc:
                await self.event("Warning", "FailedMount", f"MountVolume.SetUp failed: {exc}")
                for run in [*self.inits, *self.mains]:
                    if "waiting" in run.state:
                        run.state = st.waiting("ContainerCreating" if not run.init
                                               else "PodInitializing")
                await self.publish()
                if await self.sleep(5.0):
                    return False
        return False

    async def _run_inits(self) -> bool:
        if not self.inits:
            return True  # the containers' start writes the status next
        for run in self.inits:
            if run.finished_ok and not run.sidecar:
                continue
            self._side_tasks.append(asyncio.ensure_future(run.run()))
            if run.sidecar:
                await run.up.wait()
                continue
            await run.done.wait()
            if not run.finished_ok:
                return False
        await self.publish()
        return True

    async def _run_mains(self) -> None:
        if self.restart_policy != "Always" and all(r.finished_ok for r in self.mains):
            await self.publish()
            return
        tasks = [asyncio.ensure_future(r.run()) for r in self.mains]
        await asyncio.gather(*tasks, return_exceptions=True)
        # The main containers are done: sidecars stop now, in reverse order.
        for run in reversed([r for r in self.inits if r.sidecar]):
            run.halt = True
            if run.handle is not None and run.handle.alive():
                await run.terminate(run.handle, self.grace_s)
            with contextlib.suppress(Exception):
                await run.done.wait()
        await self.publish()
        if not self.stopping.is_set() or self.deadline_passed:
            await self.ctx.executor.remove_sandbox(self.sandbox_id)

    async def _deadline(self, seconds: float) -> None:
        """spec.activeDeadlineSeconds: past it the pod fails and its containers stop."""
        from flowyard.controllers.jobs import _epoch

        started = _epoch(self.status.get("startTime")) or time.time()
        await asyncio.sleep(max(0.0, started + seconds - time.time()))
        if self.stopping.is_set():
            return
        self.status["reason"] = "DeadlineExceeded"
        self.status["message"] = "Pod was active on the node longer than the specified deadline"
        await self.event("Normal", "DeadlineExceeded", self.status["message"])
        self.deadline_passed = True
        self.stopping.set()

    async def stop(self, grace_s: float | None = None) -> None:
        """Stop every container (SIGTERM, grace, SIGKILL) and wait for them."""
        if grace_s is not None:
            self.grace_s = grace_s
        self.stopping.set()
        if self.task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self.task
