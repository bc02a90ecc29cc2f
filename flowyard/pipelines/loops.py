"""dsl.ParallelFor: one sub-DAG per item, at most `parallelismLimit` at a time; the loop's
outputs are the per-iteration outputs collected into lists (dsl.Collected)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from flowyard.pipelines.context import RunContext
from flowyard.pipelines.errors import TaskError
from flowyard.pipelines.results import TaskResult, empty_outputs
from flowyard.store.store import DONE_TASK_STATES, now


def _items(spec: dict[str, Any], params: dict[str, Any],
           arts: dict[str, list[dict[str, Any]]]) -> tuple[str, list[Any], bool]:
    if "parameterIterator" in spec:
        it = spec["parameterIterator"]
        src = it.get("items", {})
        if "raw" in src:
            raw = src["raw"]
            try:
                items = json.loads(raw) if isinstance(raw, str) else raw
            except json.JSONDecodeError as exc:
                raise TaskError(f"loop items {raw!r} are not a JSON list") from exc
        else:
            items = params.get(src.get("inputParameter", ""))
            if isinstance(items, str):
                try:
                    items = json.loads(items)
                except json.JSONDecodeError as exc:
                    raise TaskError(f"loop items {items!r} are not a JSON list") from exc
        if not isinstance(items, list):
            raise TaskError(f"ParallelFor expects a list to iterate over, got {items!r}")
        return it["itemInput"], items, False
    it = spec["artifactIterator"]
    items = arts.get(it.get("items", {}).get("inputArtifact", ""), [])
    return it["itemInput"], list(items), True


async def run_loop(ctx: RunContext, spec: dict[str, Any], component: dict[str, Any],
                   params: dict[str, Any], arts: dict[str, list[dict[str, Any]]], path: str,
                   task_id: str) -> TaskResult:
    from flowyard.pipelines.dag import dag_state, gather_all, inner_error, run_sub_dag

    item_input, items, artifact_items = _items(spec, params, arts)
    # Each iteration is at least one task: a loop that cannot fit stops the run before any.
    ctx.reserve(len(items), f"ParallelFor {path} over {len(items):,} items")
    limit = int(spec.get("iteratorPolicy", {}).get("parallelismLimit") or 0) or len(items) or 1
    ctx.store.update_task(task_id, state="RUNNING", started_at=now(),
                          inputs={"parameters": params, "artifacts": arts},
                          details={"iterations": len(items)})

    async def iteration(i: int, item: Any) -> TaskResult:
        ipath = f"{path}/{i}"
        done = ctx.done.get(ipath)
        if done is not None and done.state in DONE_TASK_STATES:
            return TaskResult(done.state, done.outputs or empty_outputs(), done.id)
        label = f"[{i}]" if artifact_items else f"[{i}] {json.dumps(item)}"
        row = ctx.new_task(ipath, name=label[:60], component=spec["componentRef"]["name"],
                           parent_id=task_id, kind="iteration", state="PENDING",
                           details={"index": i, "item": None if artifact_items else item})
        p, a = dict(params), dict(arts)
        if artifact_items:
            a[item_input] = [item]
        else:
            p[item_input] = item
        return await run_sub_dag(ctx, component, p, a, ipath, row.id)

    results: list[TaskResult | None] = [None] * len(items)
    pending = iter(enumerate(items))

    async def worker() -> None:
        # `limit` workers take the next item each, so a long loop holds `limit` coroutines,
        # not one per item, and a cancel stops it without waking thousands of waiters.
        for i, item in pending:
            try:
                results[i] = await iteration(i, item)
            except TaskError as exc:  # the run's task bound: this iteration got no row
                results[i] = TaskResult("FAILED", empty_outputs(), error=str(exc))

    try:
        await gather_all(*(worker() for _ in range(min(limit, len(items)))))
    except asyncio.CancelledError:
        ctx.store.finish_task(task_id, ctx.run_id, "CANCELED", empty_outputs())
        raise
    results_done = [r for r in results if r is not None]
    by_index = {str(i): r for i, r in enumerate(results_done)}
    state = dag_state(by_index)
    outputs = _collect(component, results_done)
    error = None if state == "SUCCEEDED" else inner_error(by_index, "an iteration did not succeed")
    ctx.store.finish_task(task_id, ctx.run_id, state, outputs, error=error)
    return TaskResult(state, outputs, task_id, error)


def _collect(component: dict[str, Any], results: list[TaskResult]) -> dict[str, Any]:
    spec = component["dag"].get("outputs", {})
    out = empty_outputs()
    for name in spec.get("parameters", {}):
        out["parameters"][name] = [r.outputs["parameters"][name] for r in results
                                   if name in r.outputs["parameters"]]
    for name in spec.get("artifacts", {}):
        out["artifacts"][name] = [a for r in results for a in r.outputs["artifacts"].get(name, [])]
    return out
