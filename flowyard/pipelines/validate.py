"""Structural and semantic checks of a PipelineSpec, so a bad pipeline is refused before
any task runs, with the path of the offending field."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from flowyard.pipelines.errors import PipelineError

SCHEMA_VERSIONS = ("2.0.0", "2.1.0")


def validate_spec(spec: dict[str, Any], source: str) -> None:
    try:
        json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec())
    except json_format.ParseError as exc:
        raise PipelineError(f"{source}: invalid PipelineSpec: {exc}") from exc
    version = spec.get("schemaVersion")
    if version not in SCHEMA_VERSIONS:
        raise PipelineError(f"{source}: schemaVersion is {version!r}; expected one of "
                            f"{', '.join(SCHEMA_VERSIONS)}")
    components = spec.get("components", {})
    executors = spec.get("deploymentSpec", {}).get("executors", {})
    root = spec.get("root")
    if not isinstance(root, dict) or "dag" not in root:
        raise PipelineError(f"{source}: root: expected a component with a 'dag'")
    _check_dag(root["dag"], "root.dag", components, source)
    for name, comp in components.items():
        where = f"components.{name}"
        if "dag" in comp:
            _check_dag(comp["dag"], f"{where}.dag", components, source)
        elif "executorLabel" in comp:
            label = comp["executorLabel"]
            if label not in executors:
                raise PipelineError(f"{source}: {where}.executorLabel: {label!r} is not in "
                                    "deploymentSpec.executors")
            ex = executors[label]
            if not any(k in ex for k in ("container", "importer", "resolver")):
                raise PipelineError(
                    f"{source}: deploymentSpec.executors.{label}: expected 'container' or "
                    f"'importer', found {', '.join(ex) or 'nothing'}")
            if "resolver" in ex:
                raise PipelineError(f"{source}: deploymentSpec.executors.{label}: resolver "
                                    "executors are not supported (KFP v2 never compiles them)")
        else:
            raise PipelineError(f"{source}: {where}: expected 'dag' or 'executorLabel'")
    _check_no_self_reference(root["dag"], components, source)


def _refs(dag: dict[str, Any]) -> list[tuple[str, str]]:
    """(task name, component it refers to) for each task of a DAG."""
    return [(t, task["componentRef"]["name"]) for t, task in dag.get("tasks", {}).items()]


def _check_no_self_reference(root_dag: dict[str, Any], components: dict[str, Any],
                             source: str) -> None:
    """A component whose DAG contains itself, directly or through others, would expand
    forever (each level is a new nested DAG task), so it is refused before anything runs.
    Iterative, so a deep chain of components cannot exhaust Python's stack."""
    state: dict[str, int] = {}  # 1: on the current path, 2: explored, no cycle below
    for start in [ref for _, ref in _refs(root_dag)] + list(components):
        if state.get(start):
            continue
        path: list[str] = [start]
        state[start] = 1
        stack = [iter(_refs(components[start].get("dag", {})))]
        while stack:
            step = next(stack[-1], None)
            if step is None:
                stack.pop()
                state[path.pop()] = 2
                continue
            task, ref = step
            if state.get(ref) == 1:
                cycle = " → ".join([*path[path.index(ref):], ref])
                raise PipelineError(
                    f"{source}: components.{path[-1]}.dag.tasks.{task}.componentRef.name: "
                    f"component reference cycle {cycle}; a component cannot contain itself "
                    "(it would expand without end)")
            if not state.get(ref):
                state[ref] = 1
                path.append(ref)
                stack.append(iter(_refs(components[ref].get("dag", {}))))


def _check_dag(dag: dict[str, Any], where: str, components: dict[str, Any], source: str) -> None:
    tasks = dag.get("tasks", {})
    for tname, task in tasks.items():
        tw = f"{where}.tasks.{tname}"
        ref = task.get("componentRef", {}).get("name")
        if ref not in components:
            raise PipelineError(f"{source}: {tw}.componentRef.name: {ref!r} is not a component "
                                "of this pipeline")
        for dep in task.get("dependentTasks", []):
            if dep not in tasks:
                raise PipelineError(f"{source}: {tw}.dependentTasks: {dep!r} is not a task of "
                                    "the same DAG")
        for pname, p in task.get("inputs", {}).get("parameters", {}).items():
            producer = p.get("taskOutputParameter", {}).get("producerTask")
            if producer and producer not in tasks:
                raise PipelineError(f"{source}: {tw}.inputs.parameters.{pname}: producer task "
                                    f"{producer!r} is not in the same DAG")
        for aname, a in task.get("inputs", {}).get("artifacts", {}).items():
            producer = a.get("taskOutputArtifact", {}).get("producerTask")
            if producer and producer not in tasks:
                raise PipelineError(f"{source}: {tw}.inputs.artifacts.{aname}: producer task "
                                    f"{producer!r} is not in the same DAG")
    _check_acyclic(tasks, where, source)


def waits_for(spec: dict[str, Any], tasks: dict[str, Any]) -> list[str]:
    """The tasks one task waits for: its dependentTasks, and every task whose output it
    reads. The compiler leaves the latter out of dependentTasks when the output is used only
    by a resource setting (`set_cpu_limit(task.output)`); without waiting it would read
    nothing."""
    deps = list(spec.get("dependentTasks", []))
    ins = spec.get("inputs", {})
    for src in [*ins.get("parameters", {}).values(), *ins.get("artifacts", {}).values()]:
        ref = src.get("taskOutputParameter") or src.get("taskOutputArtifact") or {}
        producer = ref.get("producerTask")
        if producer in tasks and producer not in deps:
            deps.append(producer)
    return deps


def _check_acyclic(tasks: dict[str, Any], where: str, source: str) -> None:
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = " -> ".join([*trail[trail.index(name):], name])
            raise PipelineError(f"{source}: {where}: dependency cycle {cycle}")
        state[name] = 1
        for dep in waits_for(tasks[name], tasks):
            visit(dep, [*trail, name])
        state[name] = 2

    for name in tasks:
        visit(name, [])
