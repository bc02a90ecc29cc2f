"""Walking a DAG: each task starts when its upstream tasks are done and its trigger policy
allows it; conditions, loops and nested pipelines are DAG tasks of their own."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from flowyard.pipelines import cel, inputs
from flowyard.pipelines.container import ExecutorTask
from flowyard.pipelines.context import RunContext
from flowyard.pipelines.errors import TaskError
from flowyard.pipelines.placeholders import resolve_text
from flowyard.pipelines.platform_spec import PlatformResolver, TaskPlatform
from flowyard.pipelines.results import Scope, TaskResult, empty_outputs
from flowyard.pipelines.validate import waits_for
from flowyard.store.secrets import SecretStore
from flowyard.store.store import DONE_TASK_STATES, now
from flowyard.store.volumes import VolumeStore


def dag_state(results: dict[str, TaskResult]) -> str:
    states = {r.state for r in results.values()}
    if "CANCELED" in states:
        return "CANCELED"
    if "FAILED" in states:
        return "FAILED"
    return "SUCCEEDED"


async def run_dag(ctx: RunContext, component: dict[str, Any], scope: Scope, path: str,
                  parent_id: str | None) -> tuple[str, dict[str, Any]]:
    tasks: dict[str, Any] = component["dag"].get("tasks", {})
    loop = asyncio.get_running_loop()
    finished = {name: loop.create_future() for name in tasks}

    async def one(name: str) -> None:
        spec = tasks[name]
        for dep in waits_for(spec, tasks):
            await finished[dep]
        try:
            result = await run_task(ctx, name, spec, scope, path, parent_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug must fail the task, never hang the DAG
            result = TaskResult("FAILED", error=f"{type(exc).__name__}: {exc}")
        scope.results[name] = result
        finished[name].set_result(result)

    await gather_all(*(one(n) for n in tasks))
    return dag_state(scope.results), dag_outputs(component, scope.results)


async def gather_all(*aws: Any) -> list[Any]:
    """Await every child and return their results in order. When it is canceled it cancels
    its own children and returns only once each has finished its cleanup (asyncio.gather
    returned at the first canceled child, leaving the rest RUNNING).

    asyncio.wait, not gather: cancelling a gather cancels its children from inside
    `cancel()`, so a deep tree of nested DAGs was cancelled by one recursive call that hit
    Python's recursion limit and was lost, and the run went on. Here each level cancels only
    its own children, one event-loop step at a time, however deep the tree is."""
    children = [asyncio.ensure_future(a) for a in aws]
    if not children:
        return []
    try:
        await asyncio.wait(children)
    except asyncio.CancelledError:
        for child in children:
            if not child.done() and not child.cancelling():
                child.cancel()
        await asyncio.wait(children)
        raise
    return [child.result() for child in children]


def dag_outputs(component: dict[str, Any], results: dict[str, TaskResult]) -> dict[str, Any]:
    spec = component["dag"].get("outputs", {})
    out = empty_outputs()
    for name, src in spec.get("parameters", {}).items():
        selectors = ([src["valueFromParameter"]] if "valueFromParameter" in src
                     else src.get("valueFromOneof", {}).get("parameterSelectors", []))
        for sel in selectors:
            r = results.get(sel["producerSubtask"])
            if r is not None and sel["outputParameterKey"] in r.outputs["parameters"]:
                out["parameters"][name] = r.outputs["parameters"][sel["outputParameterKey"]]
                break
    for name, src in spec.get("artifacts", {}).items():
        for sel in src.get("artifactSelectors", []):
            r = results.get(sel["producerSubtask"])
            if r is not None and r.outputs["artifacts"].get(sel["outputArtifactKey"]):
                out["artifacts"][name] = r.outputs["artifacts"][sel["outputArtifactKey"]]
                break
    return out


def _kind(ctx: RunContext, spec: dict[str, Any], component: dict[str, Any]) -> str:
    if "parameterIterator" in spec or "artifactIterator" in spec:
        return "loop"
    if "dag" in component:
        name = spec.get("taskInfo", {}).get("name", "")
        if name.startswith("condition-branches"):
            return "branches"
        if name.startswith("condition"):
            return "condition"
        if name.startswith("exit-handler"):
            return "exit-handler"
        return "dag"
    return "importer" if "importer" in ctx.executors[component["executorLabel"]] else "container"


async def run_task(ctx: RunContext, name: str, spec: dict[str, Any], scope: Scope, prefix: str,
                   parent_id: str | None) -> TaskResult:
    path = f"{prefix}/{name}" if prefix else name
    comp_name = spec["componentRef"]["name"]
    component = ctx.components[comp_name]
    done = ctx.done.get(path)
    if done is not None and done.state in DONE_TASK_STATES:
        return TaskResult(done.state, done.outputs or empty_outputs(), done.id, done.error)
    display = spec.get("taskInfo", {}).get("name", name)
    row = ctx.new_task(
        path, name=display, component=comp_name, parent_id=parent_id,
        kind=_kind(ctx, spec, component), state="PENDING", error=None)
    try:
        return await _run_recorded(ctx, name, spec, scope, path, row.id, component, display)
    except Exception as exc:  # a bug must fail this task's row, not leave it PENDING
        return _fail(ctx, row.id, f"{type(exc).__name__}: {exc}")


async def _run_recorded(ctx: RunContext, name: str, spec: dict[str, Any], scope: Scope,
                        path: str, task_id: str, component: dict[str, Any], display: str
                        ) -> TaskResult:
    upstream = [scope.results[d] for d in spec.get("dependentTasks", [])]
    strategy = spec.get("triggerPolicy", {}).get("strategy", "ALL_UPSTREAM_TASKS_SUCCEEDED")
    if strategy != "ALL_UPSTREAM_TASKS_COMPLETED" and any(r.broken for r in upstream):
        return _skip(ctx, task_id, "an upstream task did not succeed")
    try:
        params, arts = inputs.resolve(spec, scope, ctx.resource_name)
        condition = spec.get("triggerPolicy", {}).get("condition")
        if condition and not cel.condition_holds(condition, params):
            return _skip(ctx, task_id, f"condition is false: {condition}")
        if "parameterIterator" in spec or "artifactIterator" in spec:
            from flowyard.pipelines.loops import run_loop

            return await run_loop(ctx, spec, component, params, arts, path, task_id)
        params = inputs.apply_definitions(component, params, arts, f"task {display}")
        _fill_final_status(ctx, component, params)
    except TaskError as exc:
        return _fail(ctx, task_id, str(exc))
    if "dag" in component:
        return await run_sub_dag(ctx, component, params, arts, path, task_id)
    task = ExecutorTask(ctx, path, name, task_id, spec, component)
    probe = {"inputs": {"parameterValues": params}}
    try:
        task.platform = resolve_platform(ctx, component["executorLabel"], scope, task_id, name,
                                         lambda v: resolve_text(v, probe, task.job()))
    except (TaskError, ValueError) as exc:
        return _fail(ctx, task_id, str(exc))
    return await task.run(params, arts)


def _fill_final_status(ctx: RunContext, component: dict[str, Any], params: dict[str, Any]
                       ) -> None:
    """An optional PipelineTaskFinalStatus input that nothing feeds (the task is not an exit
    task: a component compiled on its own, or run outside dsl.ExitHandler). Kubeflow hands it
    null and kfp's executor then fails on `None.get`; here it gets the status of the run so
    far, the closest thing to what an exit task sees: FAILED with the first failure if a task
    failed, else COMPLETE."""
    defs = component.get("inputDefinitions", {}).get("parameters", {})
    wanted = [n for n, d in defs.items()
              if d.get("parameterType") == "TASK_FINAL_STATUS" and params.get(n) is None]
    if not wanted:
        return
    failed = next((t for t in ctx.store.tasks(ctx.run_id)
                   if t.state == "FAILED" and t.kind in ("container", "importer")), None)
    name = str(ctx.spec.get("pipelineInfo", {}).get("name", "pipeline"))
    status: dict[str, Any] = {"state": "FAILED" if failed else "COMPLETE",
                              "pipelineJobResourceName": ctx.resource_name,
                              "pipelineTaskName": failed.name if failed else name}
    if failed is not None:
        status["error"] = {"code": 2, "message": failed.error or f"task {failed.name} failed"}
    for n in wanted:
        params[n] = status


def resolve_platform(ctx: RunContext, label: str, scope: Scope, task_id: str, name: str,
                     text: Any = None) -> TaskPlatform:
    cfg = ctx.platform.for_executor(label)
    if not cfg:
        return TaskPlatform()

    def param(src: dict[str, Any]) -> Any:
        value = inputs.parameter(src, scope, ctx.resource_name)
        return None if value is inputs.MISSING else value

    resolver = PlatformResolver(cfg, param, SecretStore(ctx.store), VolumeStore(ctx.store),
                                f"{ctx.resource_name}-{name}", task_id, ctx.mounts_dir(task_id),
                                text)
    platform = resolver.resolve()
    if platform.labels or platform.annotations:
        ctx.store.update_task(task_id, details={"labels": platform.labels,
                                                "annotations": platform.annotations})
    if platform.ignored:
        ctx.store.add_event(
            "IgnoredLocally", f"{', '.join(platform.ignored)}: no meaning on one machine; the "
            "task runs without it", type="Warning", run_id=ctx.run_id, task_id=task_id)
    return platform


async def run_sub_dag(ctx: RunContext, component: dict[str, Any], params: dict[str, Any],
                      arts: dict[str, list[dict[str, Any]]], path: str, task_id: str
                      ) -> TaskResult:
    ctx.store.update_task(task_id, state="RUNNING", started_at=now(),
                          inputs={"parameters": params, "artifacts": arts})
    inner = Scope(params, arts)
    try:
        state, outputs = await run_dag(ctx, component, inner, path, task_id)
    except asyncio.CancelledError:
        ctx.store.finish_task(task_id, ctx.run_id, "CANCELED", empty_outputs())
        raise
    error = None if state == "SUCCEEDED" else inner_error(inner.results,
                                                          "a task inside did not succeed")
    ctx.store.finish_task(task_id, ctx.run_id, state, _jsonable(outputs), error=error)
    return TaskResult(state, outputs, task_id, error)


def inner_error(results: dict[str, TaskResult], fallback: str) -> str:
    """The first failure inside a DAG, so what looks at the DAG (an exit handler's
    PipelineTaskFinalStatus, an enclosing pipeline) sees what went wrong, not just that
    something did."""
    for name, r in results.items():
        if r.broken and r.error:
            return r.error if r.error.startswith("task ") else f"task {name} failed: {r.error}"
    return fallback


def _jsonable(outputs: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(outputs, default=str))


def _skip(ctx: RunContext, task_id: str, why: str) -> TaskResult:
    ctx.store.finish_task(task_id, ctx.run_id, "SKIPPED", empty_outputs(), error=None,
                          details={"reason": why})
    return TaskResult("SKIPPED", empty_outputs(), task_id)


def _fail(ctx: RunContext, task_id: str, why: str) -> TaskResult:
    ctx.store.finish_task(task_id, ctx.run_id, "FAILED", empty_outputs(), error=why)
    return TaskResult("FAILED", empty_outputs(), task_id, why)
