"""One executor task: resolve its command, consult the cache, run it (with retries), and record
its outputs. Importers live here too: they are executor tasks that run no process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

from flowyard.executors.base import Exit, Handle, LogPolicy, PythonCall, Resources, Work
from flowyard.executors.state import write_atomic
from flowyard.pipelines import images, python_component
from flowyard.pipelines.cache import cache_key
from flowyard.pipelines.context import RunContext
from flowyard.pipelines.errors import TaskError
from flowyard.pipelines.executor_io import build_executor_input, collect_outputs, runtime_artifact
from flowyard.pipelines.imports import bring_in, copy_custom_path
from flowyard.pipelines.logs import failure_summary
from flowyard.pipelines.placeholders import JobContext, resolve_command, resolve_text
from flowyard.pipelines.platform_spec import TaskPlatform, release
from flowyard.pipelines.resources import quantity, requested_resources
from flowyard.pipelines.results import TaskResult, empty_outputs
from flowyard.pipelines.retry import RetryPolicy
from flowyard.pipelines.venvs import ensure_venv, site_packages
from flowyard.store.store import ArtifactRecord, now
from flowyard.store.volumes import VolumeStore

_METADATA_ONLY = frozenset({"system.Metrics", "system.ClassificationMetrics",
                            "system.SlicedClassificationMetrics"})


def _records(outputs: dict[str, Any]) -> list[ArtifactRecord]:
    return [
        ArtifactRecord(name, a["type"]["schemaTitle"], a["uri"], a.get("metadata", {}))
        for name, arts in outputs["artifacts"].items()
        for a in arts
    ]


def _with_ids(outputs: dict[str, Any], stored: list[ArtifactRecord]) -> dict[str, Any]:
    ids = iter(stored)
    for arts in outputs["artifacts"].values():
        for a in arts:
            a["artifactId"] = next(ids).id
    return outputs


class ExecutorTask:
    def __init__(self, ctx: RunContext, path: str, name: str, task_id: str,
                 task_spec: dict[str, Any], component: dict[str, Any],
                 platform: TaskPlatform | None = None) -> None:
        self.ctx, self.path, self.name, self.task_id = ctx, path, name, task_id
        self.platform = platform or TaskPlatform()
        self.task_spec, self.component = task_spec, component
        self.label = component["executorLabel"]
        self.executor = ctx.executors[self.label]

    def job(self) -> JobContext:
        # KFP's {{$.pipeline_task_name}} is taskInfo.name (the display name), not the DAG key.
        task_name = self.task_spec.get("taskInfo", {}).get("name", self.name)
        return JobContext(self.ctx.job_name, self.ctx.resource_name, self.ctx.run_id,
                          task_name, self.task_id, self.ctx.artifacts.root, self.ctx.create_time,
                          str(self.ctx.workspace_path()))

    async def run(self, params: dict[str, Any], arts: dict[str, list[dict[str, Any]]]
                  ) -> TaskResult:
        if "importer" in self.executor:
            return await self._import(params)
        container = self.executor["container"]
        image = str(container.get("image", ""))
        if image.startswith("argostub/") and not container.get("command"):
            return self._volume_step(image.split("/", 1)[1], params)
        # f-string inputs and runtime constants may themselves hold placeholders.
        probe = {"inputs": {"parameterValues": params}}
        params = {k: resolve_text(v, probe, self.job()) if isinstance(v, str) else v
                  for k, v in params.items()}
        key = None
        if self.ctx.enable_caching and self.task_spec.get("cachingOptions", {}).get("enableCache"):
            key = cache_key(self.component, self.executor, params, arts)
            hit = self._cache_hit(key, params)
            if hit is not None:
                # Nothing runs: the secret and config map files written for it go at once.
                release(self.ctx.mounts_dir(self.task_id), self.task_id)
                return hit
        try:
            return await self._execute(container, params, arts, key)
        finally:
            release(self.ctx.mounts_dir(self.task_id), self.task_id)
            # The env file handed to Docker/Podman holds secret values in plain text.
            (self.ctx.task_dir(self.path) / "container.env").unlink(missing_ok=True)

    # caching ---------------------------------------------------------------------
    def _cache_hit(self, key: str, params: dict[str, Any]) -> TaskResult | None:
        prior = self.ctx.store.find_cached(key)
        if prior is None:
            return None
        outputs = prior.outputs or empty_outputs()
        # Metrics artifacts live in their metadata; kfp writes no file for them.
        uris = [a["uri"] for arts in outputs["artifacts"].values() for a in arts
                if a.get("type", {}).get("schemaTitle") not in _METADATA_ONLY]
        if not all(self.ctx.artifacts.exists(u) for u in uris):
            return None
        stored = self.ctx.store.finish_task(
            self.task_id, self.ctx.run_id, "CACHED", outputs, _records(outputs),
            cache_key=key, cached_from=prior.id, started_at=now())
        return TaskResult("CACHED", _with_ids(outputs, stored), self.task_id)

    # importer ----------------------------------------------------------------------
    async def _import(self, params: dict[str, Any]) -> TaskResult:
        spec = self.executor["importer"]
        src = spec.get("artifactUri", {})
        uri = src.get("constant") if "constant" in src else params.get(src.get("runtimeParameter", ""))
        if not uri:
            raise TaskError("importer: artifactUri has no value")
        try:
            # A local file is copied into the artifact store (off the loop: it may be large).
            uri = await asyncio.to_thread(bring_in, str(uri), self.ctx, self.task_id, self.path)
        except TaskError as exc:
            return self._fail(str(exc), 1)
        probe = {"inputs": {"parameterValues": params}}
        metadata = json.loads(resolve_text(json.dumps(spec.get("metadata", {})), probe, self.job()))
        art = runtime_artifact("artifact", spec.get("typeSchema", {}), uri, metadata)
        if not spec.get("reimport"):
            existing = self.ctx.store.find_artifact_by_uri(uri)
            if existing is not None:
                art["metadata"] = existing.metadata_ or metadata
        outputs = {"parameters": {}, "artifacts": {"artifact": [art]}}
        stored = self.ctx.store.finish_task(self.task_id, self.ctx.run_id, "SUCCEEDED", outputs,
                                            _records(outputs), started_at=now())
        return TaskResult("SUCCEEDED", _with_ids(outputs, stored), self.task_id)

    # kfp-kubernetes CreatePVC / DeletePVC ------------------------------------------
    def _volume_step(self, op: str, params: dict[str, Any]) -> TaskResult:
        volumes = VolumeStore(self.ctx.store)
        if op == "createpvc":
            name = params.get("pvc_name") or (
                f"{self.ctx.resource_name}-{params.get('pvc_name_suffix') or 'pvc'}".lower())
            volumes.create(str(name), str(params.get("size", "")), self.ctx.run_id)
            outputs = {"parameters": {"name": str(name)}, "artifacts": {}}
        elif op == "deletepvc":
            volumes.delete(str(params.get("pvc_name", "")))
            outputs = {"parameters": {}, "artifacts": {}}
        else:
            raise TaskError(f"unknown Kubernetes step image argostub/{op}")
        self.ctx.store.finish_task(self.task_id, self.ctx.run_id, "SUCCEEDED", outputs,
                                   started_at=now())
        return TaskResult("SUCCEEDED", outputs, self.task_id)

    # execution -------------------------------------------------------------------
    def _prepare(self, container: dict[str, Any], params: dict[str, Any],
                 arts: dict[str, list[dict[str, Any]]], log_path: Path
                 ) -> tuple[Work, dict[str, Any]]:
        ctx = self.ctx
        task_dir = ctx.task_dir(self.path)
        shutil.rmtree(task_dir, ignore_errors=True)
        (task_dir / "outputs").mkdir(parents=True)
        staged = self._stage_inputs(arts, task_dir)
        out_uris: dict[str, str] = {}

        def output_uri(name: str) -> str:
            if ctx.artifacts.is_local:
                uri = ctx.output_uri(self.path, name)
                ctx.artifacts.remove(uri)  # leftovers of an attempt that died half-way
            else:
                uri = str(task_dir / "artifacts" / name)
            out_uris[name] = uri
            # As KFP's launcher does: a command may write straight to an output's .path.
            Path(uri).parent.mkdir(parents=True, exist_ok=True)
            return uri

        ex = build_executor_input(self.component, params, staged, task_dir, output_uri)
        job = self.job()
        env = ctx.base_env()
        env["FLOWYARD_TASK_ID"] = self.task_id
        env["KFP_POD_NAME"] = f"{ctx.resource_name}-{self.name}"
        env["KFP_POD_UID"] = self.task_id
        for item in container.get("env", []):
            env[item["name"]] = resolve_text(str(item.get("value", "")), ex, job)
        env.update(self.platform.env)
        log = str(log_path)
        # set_cpu_limit(param) and friends compile to placeholders: resolved here.
        resources, note = ctx.executor.clamp(self._resources(container, ex, job))
        if note:
            ctx.store.add_event("ResourcesReduced", note, type="Warning", run_id=ctx.run_id,
                                task_id=self.task_id)
        py = python_component.parse(container)
        in_engine = images.policy_for(str(container.get("image", "")), ctx.settings.home).runtime
        if py is not None and not in_engine:
            cwd = str(task_dir)
            if not py.source:
                found = python_component.find_kfp_config(Path.cwd())
                if found is None:
                    raise TaskError(
                        f"image {container.get('image')!r} holds a containerized Python component "
                        f"({py.function}); run from the folder with its kfp_config.ini (written by "
                        "`kfp component build`) so its source can be found")
                cwd = str(found)
            call = PythonCall(py.source, py.function, json.dumps(ex), str(task_dir / "module"))
            work = Work(self.task_id, [], env, log, cwd, call, resources)
            work.mounts = [(m.source, m.target, m.read_only) for m in self.platform.mounts]
        else:
            argv = resolve_command([*container.get("command", []), *container.get("args", [])],
                                   ex, job)
            argv = self._place(argv, container, env, task_dir)
            work = Work(self.task_id, argv, env, log, str(task_dir), None, resources)
            work.mounts = [(m.source, m.target, m.read_only) for m in self.platform.mounts]
        # Secret values the task was given (env and volume files) never reach its stored or
        # streamed log: the executor masks them (issue 8, item 5).
        work.log_policy = LogPolicy(mask=self.platform.mask_values())
        return work, ex

    def _stage_inputs(self, arts: dict[str, list[dict[str, Any]]], task_dir: Path
                      ) -> dict[str, list[dict[str, Any]]]:
        """Remote input artifacts are downloaded; a component only ever sees local paths."""
        staged: dict[str, list[dict[str, Any]]] = {}
        for name, items in arts.items():
            staged[name] = []
            for i, art in enumerate(items):
                uri = str(art["uri"])
                if "://" in uri and not uri.startswith("file://"):
                    local = task_dir / "inputs" / name / str(i) / Path(uri.rstrip("/")).name
                    if uri.startswith("oci://"):
                        raise TaskError(f"input artifact {name!r} is an OCI image ({uri}); pulling "
                                        "model images needs a registry, which a local run does "
                                        "not use: import the model files with dsl.importer instead")
                    try:
                        self.ctx.artifacts.download(uri, str(local))
                    except Exception as exc:
                        raise TaskError(f"input artifact {name!r}: cannot fetch {uri}: {exc}") from exc
                    art = {**art, "uri": str(local)}
                elif uri.startswith("file://"):
                    art = {**art, "uri": uri[len("file://"):]}
                staged[name].append(art)
        return staged

    def _place(self, argv: list[str], container: dict[str, Any], env: dict[str, str],
               task_dir: Path) -> list[str]:
        """Where the command runs: on the host (default), or in Docker/Podman if asked."""
        image = str(container.get("image", ""))
        policy = images.policy_for(image, self.ctx.settings.home)
        if policy.runtime:
            component_env = {e["name"]: env[e["name"]] for e in container.get("env", [])}
            component_env.update(self.platform.env)
            shared = [str(task_dir), str(self.ctx.settings.home)]
            if self.ctx.artifacts.is_local:
                shared.append(self.ctx.artifacts.root)
            return images.in_engine(policy.runtime, image, argv, env, component_env, shared,
                                    task_dir)
        if not argv:
            raise TaskError(f"image {image}: the container has no command to run")
        argv = images.on_host(argv, policy, env, image)
        self._check_runnable(argv, image, env)
        return argv

    @staticmethod
    def _check_runnable(argv: list[str], image: str, env: dict[str, str]) -> None:
        if not argv:
            raise TaskError(f"image {image}: the container has no command to run")
        exe = argv[0]
        if shutil.which(exe, path=env.get("PATH")) is None:
            where = "does not exist on this machine" if exe.startswith("/") else "is not on PATH"
            raise TaskError(
                f"image {image!r}: its command {exe!r} {where}. Flowyard runs container "
                "commands on the host; install the tool, or see docs/containers.md")

    def _resources(self, container: dict[str, Any], ex: dict[str, Any] | None = None,
                   job: JobContext | None = None) -> Resources:
        spec = _resolve_values(container.get("resources", {}), ex or {}, job or self.job())
        res = requested_resources(spec)
        limit = spec.get("resourceMemoryLimit")
        if limit:
            res = replace(res, memory_limit=int(quantity(limit, "memory limit")))
        elif spec.get("memoryLimit"):
            res = replace(res, memory_limit=int(float(spec["memoryLimit"]) * 1e9))
        return res

    async def _adopt(self, container: dict[str, Any], log: Path
                     ) -> tuple[Handle | None, dict[str, Any] | None, int, bool]:
        """A resumed run's task that was in flight: (handle, executor input, attempt, lost).
        Its process, if it still runs (or ended while nobody watched), is adopted, never
        started again; `lost` says it died with its driver and must run again."""
        ctx = self.ctx
        row = ctx.store.get_task(self.task_id)
        attempt = (row.attempts if row is not None else 0) or 0
        saved = ctx.task_dir(self.path) / _SAVED_INPUT
        ex = json.loads(saved.read_text()) if saved.exists() else None
        try:
            resources, _ = ctx.executor.clamp(self._resources(container, ex))
        except TaskError:  # placeholders that only the lost executor input could resolve
            resources, _ = ctx.executor.clamp(requested_resources({}))
        stub = Work(self.task_id, [], {}, str(log), resources=resources)
        handle = await ctx.executor.adopt(stub)
        if handle is not None and ex is not None:
            ctx.store.add_event("Adopted", f"attempt {attempt} (pid {handle.pid}) outlived its "
                                "driver: its process is kept and its result recorded; it is "
                                "not run again", run_id=ctx.run_id, task_id=self.task_id)
            return handle, ex, max(attempt, 1), False
        if handle is not None:
            handle.cancel(0)
            await handle.wait_exit()
            await ctx.executor.release(handle)
        was_running = ctx.inflight.get(self.task_id) == "RUNNING"
        if was_running and attempt:
            ctx.store.add_event("Retrying", f"attempt {attempt}'s process died with its driver; "
                                f"running it again as attempt {attempt + 1}", type="Warning",
                                run_id=ctx.run_id, task_id=self.task_id)
        return None, None, attempt, was_running and attempt > 0

    async def _execute(self, container: dict[str, Any], params: dict[str, Any],
                       arts: dict[str, list[dict[str, Any]]], key: str | None) -> TaskResult:
        ctx = self.ctx
        policy = RetryPolicy.from_spec(self.task_spec.get("retryPolicy"))
        attempt, lost = 0, 0
        handle: Handle | None = None
        ex: dict[str, Any] = {}
        log = ctx.log_path(self.path)
        limit = 0
        if self.task_id in ctx.inflight:
            handle, saved, attempt, was_lost = await self._adopt(container, log)
            lost += was_lost
            if handle is not None and saved is not None:
                ex = saved
                ctx.store.update_task(self.task_id, state="RUNNING", pid=handle.pid,
                                      log_path=str(log))
            limit = self._resources(container).memory_limit
        while True:
            if handle is None:
                attempt += 1
                if attempt > 1:
                    with log.open("a") as f:
                        f.write(f"\n--- flowyard: attempt {attempt} of "
                                f"{policy.max_retries + 1 + lost} ---\n")
                else:
                    log.unlink(missing_ok=True)
                try:
                    work, ex = self._prepare(container, params, arts, log)
                    await self._layer_packages(container, work)
                except (TaskError, ValueError) as exc:
                    if log.exists():  # what pip said while installing packages_to_install
                        ctx.store.update_task(self.task_id, log_path=str(log))
                    return self._fail(str(exc), attempt)
                limit = work.resources.memory_limit
                # Saved before the start: a resumed engine that adopts the running process
                # reads its outputs with it.
                write_atomic(ctx.task_dir(self.path) / _SAVED_INPUT, json.dumps(ex).encode())
                # PENDING while it waits for CPUs/GPUs; RUNNING (with its pid) once started.
                try:
                    handle = await ctx.executor.submit(work)
                except asyncio.CancelledError:  # canceled while waiting for CPUs/GPUs
                    ctx.store.finish_task(self.task_id, ctx.run_id, "CANCELED", empty_outputs(),
                                          error="canceled before it started")
                    raise
                except (OSError, RuntimeError, ValueError) as exc:
                    return self._fail(f"cannot start: {exc}", attempt)
                ctx.store.update_task(self.task_id, state="RUNNING", attempts=attempt,
                                      log_path=str(log), inputs=_inputs_view(params, arts),
                                      started_at=now(), pid=handle.pid, cache_key=key)
            outcome = await self._await(handle, ex, attempt)
            handle = None
            if isinstance(outcome, TaskResult):
                return outcome
            if attempt - lost > policy.max_retries:
                message, tail = failure_summary(str(log), outcome.code)
                if outcome.oom_killed:
                    message = (f"OOMKilled: the task went over its memory limit of "
                               f"{_limit_text(container, limit)} and was killed (exit code 137)")
                elif outcome is _DEADLINE:
                    message = (f"DeadlineExceeded: timed out after {self.platform.timeout:g}s "
                               "(kubernetes.set_timeout)")
                return self._fail(message, attempt, tail)
            delay = policy.delay(attempt)
            why = "was OOMKilled" if outcome.oom_killed else f"exited with {outcome.code}"
            ctx.store.add_event("Retrying", f"attempt {attempt} {why}; retrying in "
                                f"{delay:g}s", run_id=ctx.run_id, task_id=self.task_id,
                                type="Warning")
            await asyncio.sleep(delay)

    async def _await(self, handle: Handle, ex: dict[str, Any], attempt: int
                     ) -> TaskResult | Exit:
        """Wait for the process; record a success (then forget the process: recorded first,
        so a crash in between leaves it adoptable) or return how it failed."""
        ctx = self.ctx
        waiter = asyncio.ensure_future(handle.wait_exit())
        try:
            ended = await asyncio.wait_for(asyncio.shield(waiter), self.platform.timeout)
        except TimeoutError:
            # kubernetes.set_timeout: the pod's activeDeadlineSeconds, enforced here.
            handle.cancel()
            await waiter
            await ctx.executor.release(handle)
            return _DEADLINE
        except asyncio.CancelledError:
            handle.cancel()
            with contextlib.suppress(Exception):
                await asyncio.shield(waiter)
            ctx.store.finish_task(self.task_id, ctx.run_id, "CANCELED", empty_outputs(),
                                  error="canceled")
            await ctx.executor.release(handle)
            raise
        if ended.code != 0:
            await ctx.executor.release(handle)
            return ended
        try:
            outputs = collect_outputs(self.component, ex)
            outputs = self._publish(outputs)
        except TaskError as exc:
            result = self._fail(str(exc), attempt)
            await ctx.executor.release(handle)
            return result
        stored = ctx.store.finish_task(self.task_id, ctx.run_id, "SUCCEEDED", outputs,
                                       _records(outputs))
        await ctx.executor.release(handle)
        return TaskResult("SUCCEEDED", _with_ids(outputs, stored), self.task_id)

    async def _layer_packages(self, container: dict[str, Any], work: Work) -> None:
        py = python_component.parse(container)
        if py is None or work.python is None:
            return
        missing = python_component.missing_packages(py.packages)
        if not missing:
            return
        venv = await ensure_venv(self.ctx.settings.home / "venvs", missing, list(py.index_urls),
                                 Path(work.log_path))
        work.python_path = [str(site_packages(venv))]
        # Subprocesses the component starts (a notebook kernel, a worker) must see them too.
        work.env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(site_packages(venv)), work.env.get("PYTHONPATH", "")) if p)
        work.env["PATH"] = str(venv / "bin") + os.pathsep + work.env.get("PATH", "")

    def _publish(self, outputs: dict[str, Any]) -> dict[str, Any]:
        """Bring every output artifact into the artifact store: files a component wrote to a
        custom path are copied in, and with a remote root everything is uploaded."""
        for arts in outputs["artifacts"].values():
            for art in arts:
                custom = art.pop("custom_path", None)
                if custom and self.ctx.artifacts.is_local:
                    copy_custom_path(custom, art["uri"], self.ctx)
                elif custom:
                    art["uri"] = custom
        if self.ctx.artifacts.is_local:
            return outputs
        for name, arts in outputs["artifacts"].items():
            for i, art in enumerate(arts):
                target = self.ctx.output_uri(self.path, name if len(arts) == 1 else f"{name}-{i}")
                try:
                    self.ctx.artifacts.upload(art["uri"], target)
                except Exception as exc:
                    raise TaskError(f"output artifact {name!r}: upload to {target} failed: "
                                    f"{exc}") from exc
                art["uri"] = target
        return outputs

    def _fail(self, message: str, attempt: int, tail: str | None = None) -> TaskResult:
        details = {"log_tail": tail} if tail else {}
        self.ctx.store.finish_task(self.task_id, self.ctx.run_id, "FAILED", empty_outputs(),
                                   error=message, attempts=attempt, details=details)
        return TaskResult("FAILED", empty_outputs(), self.task_id, message)


def _resolve_values(spec: Any, ex: dict[str, Any], job: JobContext, where: str = "resources"
                    ) -> Any:
    """Every string inside `spec` with its placeholders resolved; a placeholder that gives
    nothing is an error naming the field (it must not silently mean "the default")."""
    if isinstance(spec, dict):
        return {k: _resolve_values(v, ex, job, f"{where}.{k}") for k, v in spec.items()}
    if isinstance(spec, list):
        return [_resolve_values(v, ex, job, f"{where}[{i}]") for i, v in enumerate(spec)]
    if not isinstance(spec, str) or "{{$" not in spec:
        return spec
    value = resolve_text(spec, ex, job)
    if not value.strip():
        raise TaskError(f"{where}: {spec} has no value")
    return value


_SAVED_INPUT = "executor_input.json"
_DEADLINE = Exit(137, 9)  # what a task stopped at its kubernetes.set_timeout deadline reads as


def _limit_text(container: dict[str, Any], limit: int) -> str:
    """The limit as the pipeline gave it, and in bytes."""
    spec = container.get("resources", {})
    given = spec.get("resourceMemoryLimit") or (
        f"{spec['memoryLimit']}G" if spec.get("memoryLimit") else "")
    if "{{$" in given:  # set_memory_limit(param): the bytes are what it resolved to
        given = ""
    return f"{given} ({limit} bytes)" if given else f"{limit} bytes"


def _inputs_view(params: dict[str, Any], arts: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    return {"parameters": params, "artifacts": arts}
