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


class _Pods:
    """A Job's pods as its controller counts them."""

    def __init__(self, spec: dict[str, Any], pods: list[dict[str, Any]]) -> None:
        self.spec = spec
        self.parallelism = int(spec.get("parallelism", 1))
        completions = spec.get("completions")
        if completions is None and spec.get("parallelism") is None:
            completions = 1
        self.completions: int | None = completions
        self.indexed = spec.get("completionMode") == "Indexed"
        self.active = [p for p in pods if pod_phase(p) not in ("Succeeded", "Failed")]
        self.succeeded = [p for p in pods if pod_phase(p) == "Succeeded"]
        self.failed = [p for p in pods if pod_phase(p) == "Failed"]
        self.done_indexes = sorted({_index(p) for p in self.succeeded} - {-1})
        self.n_succeeded = len(self.done_indexes) if self.indexed else len(self.succeeded)
        # Failures that count: failed pods no Ignore rule excuses, and restarts in place.
        self.counted, self.fail_job = 0, None
        for p in self.failed:
            action, msg = _policy_action(spec.get("podFailurePolicy"), p)
            if action == "FailJob" and self.fail_job is None:
                self.fail_job = msg
            if action != "Ignore":
                self.counted += 1
        self.restarts = sum(int(c.get("restartCount") or 0) for p in self.active
                            for c in (p.get("status") or {}).get("containerStatuses") or [])

    def failure(self) -> tuple[str, str] | None:
        if self.fail_job is not None:
            return "PodFailurePolicy", self.fail_job
        if self.counted + self.restarts > int(self.spec.get("backoffLimit", 6)):
            return "BackoffLimitExceeded", "Job has reached the specified backoff limit"
        return None

    def complete(self) -> bool:
        if self.completions is not None:
            return self.n_succeeded >= self.completions
        return bool(self.succeeded) and not self.active  # a work queue: one success, all done

    def wanted(self) -> int:
        if self.completions is None:
            return self.parallelism if not self.succeeded else 0
        if self.indexed:
            return self.parallelism
        return min(self.parallelism, self.completions - self.n_succeeded)

    def todo(self, want: int) -> list[int | None]:
        """The completion indexes (None when not Indexed) of the pods to make now."""
        room = max(0, want - len(self.active))
        if not self.indexed:
            return [None] * room
        running = {_index(p) for p in self.active}
        free = [i for i in range(self.completions or 0)
                if i not in self.done_indexes and i not in running]
        return list(free[:room])


def _index(pod: dict[str, Any]) -> int:
    return int((pod["metadata"].get("annotations") or {}).get(INDEX, -1))


class JobController:
    group = "batch"
    kind = "Job"

    async def reconcile(self, obj: dict[str, Any], ctx: Context) -> Outcome:
        if obj["metadata"].get("deletionTimestamp"):
            return Outcome()  # being deleted: nothing new is made for it
        spec = obj.get("spec") or {}
        status: dict[str, Any] = dict(obj.get("status") or {})
        if any(c["type"] in ("Complete", "Failed") and c["status"] == "True"
               for c in status.get("conditions") or []):
            return await self._finished(obj, status, ctx)
        view = _Pods(spec, await ctx.objects.children(obj, "", "pods"))
        now, now_s = rfc3339(), time.time()
        events: list[tuple[str, str, str]] = []
        if spec.get("suspend"):
            events += await self._delete(view.active, ctx)
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
        status.update(active=len(view.active), succeeded=view.n_succeeded,
                      failed=len(view.failed), terminating=0,
                      ready=sum(1 for p in view.active if pod_ready(p)))
        if view.indexed:
            status["completedIndexes"] = _index_ranges(view.done_indexes)
        deadline = spec.get("activeDeadlineSeconds")
        started = _epoch(status.get("startTime"))
        failure = view.failure()
        if failure is None and deadline is not None and started is not None and \
                now_s - started >= deadline:
            failure = ("DeadlineExceeded", "Job was active longer than specified deadline")
        if failure is not None:
            reason, message = failure
            events += await self._delete(view.active, ctx)
            _set(status, "FailureTarget", reason, message, now)
            _set(status, "Failed", reason, message, now)
            status.update(active=0, ready=0)
            events.append(("Warning", reason, message))
            return Outcome(status=status, events=events, requeue_after=self._ttl(spec))
        if view.complete():
            await self._delete(view.active, ctx)  # the rest are no longer needed
            for type_ in ("SuccessCriteriaMet", "Complete"):
                _set(status, type_, "CompletionsReached",
                     "Reached expected number of succeeded pods", now)
            status["completionTime"] = now
            status.update(active=0, ready=0)
            events.append(("Normal", "Completed", "Job completed"))
            return Outcome(status=status, events=events, requeue_after=self._ttl(spec))
        requeue = await self._make_pods(obj, view, now_s, status, events, ctx)
        if deadline is not None and started is not None:
            left = deadline - (now_s - started)
            requeue = left if requeue is None else min(requeue, left)
        return Outcome(status=status, events=events, requeue_after=requeue)

    async def _make_pods(self, job: dict[str, Any], view: _Pods, now_s: float,
                         status: dict[str, Any], events: list[tuple[str, str, str]],
                         ctx: Context) -> float | None:
        """Pods up to parallelism (no more than still needed); after a counted failure, the
        Job's back-off (10 s doubling, at most 6 min) before a replacement. Returns when to
        look again, if that is known."""
        want, requeue = view.wanted(), None
        if view.failed and view.counted:
            last = max((_epoch((p.get("status") or {}).get("startTime")) or 0)
                       for p in view.failed)
            wait = min(BACKOFF_S * 2 ** (view.counted - 1), BACKOFF_MAX_S) - (now_s - last)
            if wait > 0:
                requeue, want = wait, len(view.active)
        for index in view.todo(want):
            pod = self._pod(job, index)
            if await ctx.objects.create(pod, owner=job) is not None:
                events.append(("Normal", "SuccessfulCreate",
                               f"Created pod: {pod['metadata']['name']}"))
                status["active"] += 1
        return requeue

    @staticmethod
    async def _delete(pods: list[dict[str, Any]], ctx: Context) -> list[tuple[str, str, str]]:
        events = []
        for p in pods:
            if await ctx.objects.delete(p):
                events.append(("Normal", "SuccessfulDelete",
                               f"Deleted pod: {p['metadata']['name']}"))
        return events

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

    @staticmethod
    def _ttl(spec: dict[str, Any]) -> float | None:
        """When a Job that finishes now is to be deleted (ttlSecondsAfterFinished)."""
        ttl = spec.get("ttlSecondsAfterFinished")
        return None if ttl is None else float(ttl)

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
        return []  # its pods go with it: the garbage collector follows ownerReferences
