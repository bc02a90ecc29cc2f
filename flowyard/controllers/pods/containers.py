"""One container of a pod: from its spec to the executor's Work, then its supervision: adopt or
start, probes, exit, restart with back-off. Its state is what the pod status shows."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

from flowyard.controllers.pods import status as st
from flowyard.controllers.pods.env import ConfigError, base_env, container_env
from flowyard.controllers.pods.expand import expand
from flowyard.controllers.pods.probes import ProbeState, run_probe
from flowyard.controllers.pods.scheduling import container_requests
from flowyard.controllers.pods.volumes import mounts_for, pod_dir
from flowyard.executors.base import Exit, Handle, LogPolicy, LogRef, Resources, Work
from flowyard.resources import quantity

if TYPE_CHECKING:
    from flowyard.controllers.pods.worker import PodWorker

log = logging.getLogger("flowyard.kubelet")
BACKOFF_START_S = 10.0
BACKOFF_MAX_S = 300.0
BACKOFF_RESET_S = 600.0  # a container that ran this long starts its back-off afresh


class ContainerRun:
    def __init__(self, worker: PodWorker, spec: dict[str, Any], init: bool) -> None:
        self.w, self.spec, self.init = worker, spec, init
        self.name: str = spec["name"]
        self.sidecar = init and spec.get("restartPolicy") == "Always"
        self.restart_count = 0
        self.state: dict[str, Any] = st.waiting("ContainerCreating") if not init else \
            st.waiting("PodInitializing")
        self.last_state: dict[str, Any] = {}
        self.ready = False
        self.started = False
        self.container_id = ""
        self.handle: Handle | None = None
        self.delay = 0.0
        self.done = asyncio.Event()  # no restart will follow (the container is finished)
        self.up = asyncio.Event()  # started (and its startup probe passed)
        self.kill_reason: str | None = None
        self._adopted: Handle | None = None
        self.halt = False  # set when the kubelet stops this container for good (sidecars)

    # status ------------------------------------------------------------------------------
    def restore(self, saved: dict[str, Any]) -> None:
        """Take up what the stored status says (after a restart of the control plane)."""
        self.restart_count = int(saved.get("restartCount") or 0)
        self.state = saved.get("state") or self.state
        self.last_state = saved.get("lastState") or {}
        self.container_id = saved.get("containerID") or ""

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "state": self.state,
                               "lastState": self.last_state, "ready": self.ready,
                               "restartCount": self.restart_count, "image": self.spec["image"],
                               "imageID": f"flowyard://{self.spec['image']}",
                               "started": self.started}
        if self.container_id:
            out["containerID"] = self.container_id
        return out

    @property
    def finished_ok(self) -> bool:
        term = self.state.get("terminated")
        return bool(term) and term.get("exitCode") == 0

    # the work ----------------------------------------------------------------------------
    def task_id(self) -> str:
        return f"pod-{self.w.uid}-{self.name}-{self.restart_count}"

    async def work(self) -> Work:
        w, spec = self.w, self.spec
        env, secrets = await container_env(w.pod, spec, w.ctx.objects, w.ctx.store,
                                           w.services_at_start, w.allocatable)
        env = {**base_env(w.pod), **env}
        command = [expand(a, env) for a in spec.get("command") or []]
        args = [expand(a, env) for a in spec.get("args") or []]
        argv = command + args
        if not argv:
            raise ConfigError(f"image {spec['image']}: no command or args given, and the image's "
                              "entrypoint is not known on this machine (give `command`, or map "
                              "the image in $FLOWYARD_HOME/images.yaml)")
        policy = w.image_policy(spec["image"])
        if policy.runtime:
            raise ConfigError(f"image {spec['image']}: runtime {policy.runtime} is not used for "
                              "pods yet; their commands run on this machine")
        from flowyard.pipelines.images import on_host

        argv = on_host(argv, policy, env, spec["image"])  # images.yaml, else well-known images
        req = container_requests(spec)
        limit = ((spec.get("resources") or {}).get("limits") or {}).get("memory")
        # The pod's folder marks that something of it ran (deletion cleans it up).
        pod_dir(w.uid).mkdir(parents=True, exist_ok=True)
        return Work(task_id=self.task_id(), argv=argv, env=env, log_path="",
                    cwd=spec.get("workingDir"),
                    resources=Resources(cpu=req.cpu, memory=req.memory, gpu=req.gpu,
                                        memory_limit=quantity.bytes_(limit) if limit else 0),
                    mounts=mounts_for(spec, w.volumes),
                    log=LogRef(("pods", w.ns, w.name, self.name)),
                    log_policy=LogPolicy(mask=secrets), sandbox=w.sandbox_id)

    # supervision -------------------------------------------------------------------------
    async def run(self) -> None:
        """Run until the container is finished for good (or the pod stops)."""
        try:
            pending = await self._restored_exit()
            while not self.w.stopping.is_set():
                if pending is not None:
                    ran_s, exit_ = 0.0, pending
                    pending = None
                else:
                    handle = await self._start()
                    if handle is None:
                        continue  # could not start: _start waited its back-off
                    ran_s, exit_ = await self._watch(handle)
                if self._finished(exit_):
                    break
                if ran_s >= BACKOFF_RESET_S:
                    self.delay = 0.0
                if self.delay:
                    self.last_state = self.state
                    self.state = st.waiting("CrashLoopBackOff", (
                        f"back-off {self.delay:g}s restarting failed container={self.name} "
                        f"pod={self.w.name}_{self.w.ns}({self.w.uid})"))
                    await self.w.event("Warning", "BackOff", f"Back-off restarting failed "
                                       f"container {self.name} in pod {self.w.name}_{self.w.ns}"
                                       f"({self.w.uid})")
                    await self.w.publish()
                    if await self.w.sleep(self.delay):
                        break
                else:
                    self.last_state = self.state
                self.delay = BACKOFF_START_S if not self.delay else min(self.delay * 2,
                                                                        BACKOFF_MAX_S)
                # The next attempt is recorded before it starts: a restart of the control
                # plane adopts it instead of starting it twice.
                self.restart_count += 1
                self.state = st.waiting("ContainerCreating")
                self.ready = self.started = False
                await self.w.publish()
        finally:
            self.done.set()
            self.up.set()

    async def _restored_exit(self) -> Exit | None:
        """After a restart: the exit the stored status already shows (decide its restart
        instead of running that attempt again), or a running container that vanished."""
        term = self.state.get("terminated")
        if term is not None:
            return Exit(code=int(term.get("exitCode", 1)))
        if "running" in self.state:
            try:
                handle = await self.w.ctx.executor.adopt(await self.work())
            except (ConfigError, ValueError):
                handle = None
            if handle is None:
                self.state = st.terminated(Exit(code=137), self.container_id,
                                           "ContainerStatusUnknown", "The container could not "
                                           "be located when the pod was terminated")
                await self.w.publish()
                return Exit(code=137)
            self._adopted = handle
        return None

    def _finished(self, exit_: Exit | None) -> bool:
        if exit_ is None or self.w.stopping.is_set() or self.halt:
            return True
        if self.sidecar:
            return False
        policy = self.w.restart_policy
        if self.init:
            return exit_.code == 0 or policy == "Never"
        return policy == "Never" or (policy == "OnFailure" and exit_.code == 0)

    async def _start(self) -> Handle | None:
        ex = self.w.ctx.executor
        try:
            work = await self.work()
        except (ConfigError, ValueError) as exc:
            self.state = st.waiting("CreateContainerConfigError", str(exc))
            await self.w.event("Warning", "Failed", f"Error: {exc}")
            await self.w.publish()
            await self.w.sleep(BACKOFF_START_S)
            return None
        handle, self._adopted = self._adopted or await ex.adopt(work), None
        adopted = handle is not None
        if handle is None:
            await self.w.event("Normal", "Pulled", f'Container image "{self.spec["image"]}" '
                               "already present on machine")
            try:
                handle = await ex.submit(work)
            except (ValueError, OSError) as exc:
                self.state = st.waiting("RunContainerError", str(exc))
                await self.w.event("Warning", "Failed", f"Error: {exc}")
                await self.w.publish()
                await self.w.sleep(max(self.delay, BACKOFF_START_S))
                return None
            await self.w.event("Normal", "Created", f"Created container {self.name}")
            await self.w.event("Normal", "Started", f"Started container {self.name}")
        self.handle = handle
        self.container_id = f"flowyard://{work.task_id}"
        if adopted and not handle.alive():
            return handle  # it ended while nobody watched: _watch records its exit
        started_at = (self.state.get("running") or {}).get("startedAt") if adopted else None
        self.state = {"running": {"startedAt": started_at or st.rfc3339()}}
        self.started = "startupProbe" not in self.spec
        self.ready = self.started and "readinessProbe" not in self.spec
        if self.started:
            self.up.set()
        if handle.alive():
            # A container that has already ended (a quick command) goes straight to its
            # terminated state, which _watch writes next: one status write, not two, as a
            # kubelet reports only what it last saw. Its attempt is already recorded: a
            # restart adopts it by the same task id.
            await self.w.publish()
        return handle

    async def _watch(self, handle: Handle) -> tuple[float, Exit | None]:
        began = time.monotonic()
        probes = [asyncio.ensure_future(self._probe(handle, kind))
                  for kind in ("startupProbe", "livenessProbe", "readinessProbe")
                  if self.spec.get(kind) and handle.alive()]
        stop = asyncio.ensure_future(self.w.stopping.wait())
        exit_fut = asyncio.ensure_future(handle.wait_exit())
        try:
            await asyncio.wait([exit_fut, stop], return_when=asyncio.FIRST_COMPLETED)
            if not exit_fut.done():  # the pod is being deleted: stop the container
                await self.terminate(handle, self.w.grace_s)
            exit_ = await exit_fut
        finally:
            for task in [*probes, stop]:
                task.cancel()
        with contextlib.suppress(Exception):
            await self.w.ctx.executor.release(handle)
        self.handle = None
        reason = exit_.reason
        message = None
        if self.kill_reason:
            message, self.kill_reason = self.kill_reason, None
        self.state = st.terminated(exit_, self.container_id, reason, message)
        self.ready = False
        if exit_.oom_killed:
            await self.w.event("Warning", "OOMKilled", f"Container {self.name} was killed: "
                               "it went over its memory limit")
        await self.w.publish()
        return time.monotonic() - began, exit_

    async def terminate(self, handle: Handle, grace_s: float) -> None:
        await self.w.event("Normal", "Killing", f"Stopping container {self.name}")
        pre = (self.spec.get("lifecycle") or {}).get("preStop")
        started = time.monotonic()
        if pre and handle.alive():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._hook(pre), grace_s)
        handle.cancel(max(0.0, grace_s - (time.monotonic() - started)))

    async def _hook(self, hook: dict[str, Any]) -> None:
        if "sleep" in hook:
            await asyncio.sleep(float(hook["sleep"].get("seconds") or 0))
            return
        ok, msg = await run_probe(hook, self.w.ip, self.spec, self.exec_in)
        if not ok:
            await self.w.event("Warning", "FailedPreStopHook", f"PreStopHook failed: {msg}")

    async def _probe(self, handle: Handle, kind: str) -> None:
        probe = self.spec[kind]
        state = ProbeState(probe)
        label = {"startupProbe": "Startup", "livenessProbe": "Liveness",
                 "readinessProbe": "Readiness"}[kind]
        if kind != "startupProbe":
            await self.up.wait()  # liveness and readiness wait for the startup probe
        await asyncio.sleep(state.initial_delay)
        while handle.alive():
            ok, msg = await run_probe(probe, self.w.ip, self.spec, self.exec_in)
            if not handle.alive():
                return
            if not ok:
                await self.w.event("Warning", "Unhealthy", f"{label} probe failed: {msg}")
            crossed = state.record(ok)
            if kind == "readinessProbe" and crossed is not None:
                ready = crossed == "success"
                if ready != self.ready:
                    self.ready = ready
                    await self.w.publish()
            elif kind == "startupProbe" and crossed == "success":
                self.started = True
                self.ready = "readinessProbe" not in self.spec
                self.up.set()
                await self.w.publish()
                return
            elif crossed == "failure":
                what = "startup" if kind == "startupProbe" else "liveness"
                self.kill_reason = None
                await self.w.event("Normal", "Killing", f"Container {self.name} failed {what} "
                                   "probe, will be restarted")
                grace = float(probe.get("terminationGracePeriodSeconds") or self.w.grace_s)
                handle.cancel(grace)
                return
            await asyncio.sleep(state.period)

    async def exec_in(self, argv: list[str], timeout: float) -> tuple[int, str]:
        """An exec probe or hook: the command in the container's sandbox, env and mounts."""
        ex = self.w.ctx.executor
        base = await self.work()
        ref = LogRef(("pods", self.w.ns, self.w.name, f"{self.name}.probe"))
        work = Work(task_id=f"probe-{self.w.uid}-{self.name}-{time.monotonic_ns()}",
                    argv=argv, env=base.env, log_path="", cwd=base.cwd,
                    resources=Resources(cpu=0.0), mounts=base.mounts, log=ref,
                    log_policy=base.log_policy, sandbox=base.sandbox)
        handle = await ex.submit(work)
        try:
            exit_ = await asyncio.wait_for(handle.wait_exit(), timeout)
        except TimeoutError:
            handle.cancel(0.0)
            with contextlib.suppress(Exception):
                await handle.wait_exit()
            return -1, ""
        finally:
            with contextlib.suppress(Exception):
                await ex.release(handle)
        output = b""
        with contextlib.suppress(Exception):
            async for chunk in ex.read_log(ref, tail=10):
                output += chunk
                if len(output) > 4096:
                    break
        return exit_.code, output.decode(errors="replace")[-1024:]
