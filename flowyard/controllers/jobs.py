"""batch/v1 Job: pods until `completions` succeed, `parallelism` at a time; failures counted
against backoffLimit (failed pods, plus container restarts under OnFailure) unless a
podFailurePolicy rule says otherwise; activeDeadlineSeconds, suspend, Indexed completion,
ttlSecondsAfterFinished. Every count is read from the Job's pods, never kept in memory."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from flowyard.controllers.context import Context
from flowyard.controllers.pods.status import rfc3339
from flowyard.controllers.registry import Outcome
from flowyard.controllers.templates import pod_from_template, pod_phase, pod_ready, suffix

INDEX = "batch.kubernetes.io/job-completion-index"
BACKOFF_S = 10.0
BACKOFF_MAX_S = 360.0


def _epoch(ts: str | None) -> float | None:
    if not ts:
        return None
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def _index_ranges(indexes: list[int]) -> str:
    out, run = [], []
    for i in sorted(set(indexes)):
        if run and i == run[-1] + 1:
            run.append(i)
            continue
        if run:
            out.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
        run = [i]
    if run:
        out.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
    return ",".join(out)


def _set(status: dict[str, Any], type_: str, reason: str, message: str, now: str,
         value: bool = True) -> None:
    conds = status.setdefault("conditions", [])
    cur = next((c for c in conds if c["type"] == type_), None)
    want = "True" if value else "False"
    if cur is not None and cur.get("status") == want and cur.get("reason") == reason:
        return
    if cur is None:
        cur = {"type": type_}
        conds.append(cur)
    cur.update(status=want, reason=reason, message=message, lastProbeTime=now,
               lastTransitionTime=now)


def _failed_containers(pod: dict[str, Any]) -> list[tuple[str, int]]:
    out = []
    for c in (pod.get("status") or {}).get("containerStatuses") or []:
        term = (c.get("state") or {}).get("terminated")
        if term and term.get("exitCode", 0) != 0:
            out.append((c["name"], int(term["exitCode"])))
    return out


def _rule_matches(rule: dict[str, Any], pod: dict[str, Any]) -> str | None:
    """A message if `rule` matches the failed pod, else None."""
    codes = rule.get("onExitCodes")
    if codes:
        values = set(codes.get("values") or [])
        for name, code in _failed_containers(pod):
            if codes.get("containerName") not in (None, name):
                continue
            if (codes.get("operator") == "In") == (code in values):
                return f"Container {name} for pod {pod['metadata']['namespace']}/" \
                       f"{pod['metadata']['name']} failed with exit code {code}"
    for want in rule.get("onPodConditions") or []:
        for c in (pod.get("status") or {}).get("conditions") or []:
            if c.get("type") == want.get("type") and c.get("status") == want.get("status",
                                                                                  "True"):
                return f"Pod {pod['metadata']['namespace']}/{pod['metadata']['name']} has " \
                       f"condition {c['type']}"
    return None


def _policy_action(policy: dict[str, Any] | None, pod: dict[str, Any]) -> tuple[str, str]:
    for i, rule in enumerate((policy or {}).get("rules") or []):
        msg = _rule_matches(rule, pod)
        if msg is not None:
            return rule["action"], f"{msg} matching {rule['action']} rule at index {i}"
    return "Count", ""


class JobController:
    group = "batch"
    kind = "Job"

    async def reconcile(self, obj: dict[str, Any], ctx: Context) -> Outcome:
        spec = obj.get("spec") or {}
        status: dict[str, Any] = dict(obj.get("status") or {})
        now, now_s = rfc3339(), time.time()
        events: list[tuple[str, str, str]] = []
        pods = await ctx.objects.children(obj, "", "pods")
        if any(c["type"] in ("Complete", "Failed") and c["status"] == "True"
               for c in status.get("conditions") or []):
            return await self._finished(obj, status, ctx)
        parallelism = spec.get("parallelism", 1)
        completions = spec.get("completions")
        if completions is None:
            completions = 1 if spec.get("parallelism") is None else None
        indexed = spec.get("completionMode") == "Indexed"
        limit = spec.get("backoffLimit", 6)
        active = [p for p in pods if pod_phase(p) not in ("Succeeded", "Failed")]
        succeeded = [p for p in pods if pod_phase(p) == "Succeeded"]
        failed = [p for p in pods if pod_phase(p) == "Failed"]
        # Failures that count: failed pods no Ignore rule excuses, and restarts in place.
        counted, fail_job = 0, None
        for p in failed:
            action, msg = _policy_action(spec.get("podFailurePolicy"), p)
            if action == "FailJob" and fail_job is None:
                fail_job = msg
            if action not in ("Ignore",):
                counted += 1
        restarts = sum(int(c.get("restartCount") or 0) for p in active
                       for c in (p.get("status") or {}).get("containerStatuses") or [])
        if spec.get("suspend"):
            for p in active:
                if await ctx.objects.delete(p):
                    events.append(("Normal", "SuccessfulDelete",
                                   f"Deleted pod: {p['metadata']['name']}"))
            _set(status, "Suspended", "JobSuspended", "Job suspended", now)
            status.pop("startTime", None)
            status.update(active=0, ready=0)
            return Outcome(status=status, events=events or [("Normal", "Suspended",
                                                             "Job suspended")])
        if any(c["type"] == "Suspended" and c["status"] == "True"
               for c in status.get("conditions") or []):
            _set(status, "Suspended", "JobResumed", "Job resumed", now, value=False)
            events.append(("Normal", "Resumed", "Job resumed"))
        status.setdefault("startTime", now)
        done_indexes = sorted({int((p["metadata"].get("annotations") or {}).get(INDEX, -1))
                               for p in succeeded} - {-1})
        n_succeeded = len(done_indexes) if indexed else len(succeeded)
        status.update(active=len(active), succeeded=n_succeeded, failed=len(failed),
                      ready=sum(1 for p in active if pod_ready(p)), terminating=0)
        if indexed:
            status["completedIndexes"] = _index_ranges(done_indexes)
        # Decide: failed, complete, or make pods.
        reason = message = None
        deadline = spec.get("activeDeadlineSeconds")
        started = _epoch(status.get("startTime"))
        if fail_job is not None:
            reason, message = "PodFailurePolicy", fail_job
        elif counted + restarts > limit:
            reason, message = "BackoffLimitExceeded", "Job has reached the specified backoff limit"
        elif deadline is not None and started is not None and now_s - started >= deadline:
            reason, message = "DeadlineExceeded", "Job was active longer than specified deadline"
        if reason is not None:
            for p in active:
                if await ctx.objects.delete(p):
                    events.append(("Normal", "SuccessfulDelete",
                                   f"Deleted pod: {p['metadata']['name']}"))
            _set(status, "FailureTarget", reason, message or "", now)
            _set(status, "Failed", reason, message or "", now)
            status.update(active=0, ready=0)
            events.append(("Warning", reason, message or ""))
            return Outcome(status=status, events=events,
                           requeue_after=self._ttl_after(spec, now_s, now_s))
        complete = (n_succeeded >= completions) if completions is not None else (
            bool(succeeded) and not active)
        if complete:
            for p in active:  # the rest are no longer needed
                await ctx.objects.delete(p)
            _set(status, "SuccessCriteriaMet", "CompletionsReached",
                 "Reached expected number of succeeded pods", now)
            _set(status, "Complete", "CompletionsReached",
                 "Reached expected number of succeeded pods", now)
            status["completionTime"] = now
            status.update(active=0, ready=0)
            events.append(("Normal", "Completed", "Job completed"))
            return Outcome(status=status, events=events,
                           requeue_after=self._ttl_after(spec, now_s, now_s))
        # Make pods up to parallelism (and no more than are still needed).
        requeue = None
        if completions is not None:
            want_active = min(parallelism, completions - n_succeeded) if not indexed else \
                parallelism
        else:
            want_active = parallelism if not succeeded else 0
        if failed and counted:
            last = max((_epoch((p.get("status") or {}).get("startTime")) or 0) for p in failed)
            wait = min(BACKOFF_S * 2 ** (counted - 1), BACKOFF_MAX_S) - (now_s - last)
            if wait > 0 and len(active) >= 0 and counted:
                requeue = wait
                want_active = len(active)  # back off before replacing a failed pod
        todo: list[int | None] = []
        if indexed:
            running = {int((p["metadata"].get("annotations") or {}).get(INDEX, -1))
                       for p in active}
            free = [i for i in range(completions or 0) if i not in done_indexes
                    and i not in running]
            todo = list(free[:max(0, want_active - len(active))])
        else:
            todo = [None] * max(0, want_active - len(active))
        for index in todo:
            pod = self._pod(obj, index)
            made = await ctx.objects.create(pod, owner=obj)
            if made is not None:
                events.append(("Normal", "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}"))
                status["active"] += 1
        if deadline is not None and started is not None:
            left = deadline - (now_s - started)
            requeue = left if requeue is None else min(requeue, left)
        return Outcome(status=status, events=events, requeue_after=requeue)

    def _pod(self, job: dict[str, Any], index: int | None) -> dict[str, Any]:
        meta, spec = job["metadata"], job.get("spec") or {}
        name = meta["name"]
        labels = {"batch.kubernetes.io/controller-uid": meta["uid"],
                  "batch.kubernetes.io/job-name": name, "controller-uid": meta["uid"],
                  "job-name": name}
        annotations = {}
        pod_name = f"{name}-{suffix()}"
        if index is not None:
            labels[INDEX] = str(index)
            annotations[INDEX] = str(index)
            pod_name = f"{name}-{index}-{suffix()}"
        pod = pod_from_template(spec["template"], pod_name, meta.get("namespace") or "default",
                                job, labels, annotations)
        if index is not None:
            pspec = pod["spec"]
            pspec.setdefault("hostname", f"{name}-{index}")
            for c in [*(pspec.get("containers") or []), *(pspec.get("initContainers") or [])]:
                env = [e for e in c.get("env") or [] if e.get("name") != "JOB_COMPLETION_INDEX"]
                c["env"] = [{"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {
                    "fieldPath": f"metadata.annotations['{INDEX}']"}}}, *env]
        return pod

    def _ttl_after(self, spec: dict[str, Any], finished: float, now: float) -> float | None:
        ttl = spec.get("ttlSecondsAfterFinished")
        return None if ttl is None else max(0.0, finished + ttl - now)

    async def _finished(self, obj: dict[str, Any], status: dict[str, Any], ctx: Context
                        ) -> Outcome:
        ttl = (obj.get("spec") or {}).get("ttlSecondsAfterFinished")
        if ttl is None:
            return Outcome()
        done = next((c.get("lastTransitionTime") for c in status.get("conditions") or []
                     if c["type"] in ("Complete", "Failed") and c["status"] == "True"), None)
        left = (_epoch(done) or time.time()) + ttl - time.time()
        if left > 0:
            return Outcome(requeue_after=left)
        await ctx.objects.delete(obj)
        return Outcome()

    async def finalize(self, obj: dict[str, Any], ctx: Context) -> list[tuple[str, str, str]]:
        # Until the store collects garbage by ownerReferences, the Job removes its pods.
        for pod in await ctx.objects.children(obj, "", "pods"):
            await ctx.objects.delete(pod)
        return []
