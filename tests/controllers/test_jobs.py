"""batch/v1 Job semantics through the kubernetes client: podFailurePolicy, suspend and resume,
activeDeadlineSeconds, ttlSecondsAfterFinished."""

from __future__ import annotations

from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.controllers.conftest import wait_for


def _job(name: str, command: list[str], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"template": {"spec": {"restartPolicy": "Never",
                                           "terminationGracePeriodSeconds": 1,
                                           "containers": [{"name": "c", "image": "busybox",
                                                           "command": command}]}}, **spec}}


def _condition(batch: client.BatchV1Api, name: str, type_: str) -> Any:
    job = batch.read_namespaced_job(name, "default")
    return next((c for c in job.status.conditions or [] if c.type == type_
                 and c.status == "True"), None)


def test_pod_failure_policy_fails_the_job_on_an_exit_code(kube: Any) -> None:
    batch = client.BatchV1Api(kube)
    batch.create_namespaced_job("default", _job(
        "policy", ["sh", "-c", "exit 42"], backoffLimit=5, podFailurePolicy={"rules": [
            {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}}]}))
    cond = wait_for(lambda: _condition(batch, "policy", "Failed"), what="Failed")
    assert cond.reason == "PodFailurePolicy"
    assert "failed with exit code 42 matching FailJob rule at index 0" in cond.message
    assert batch.read_namespaced_job("policy", "default").status.failed == 1


def test_suspended_job_runs_when_resumed(kube: Any) -> None:
    batch, core = client.BatchV1Api(kube), client.CoreV1Api(kube)
    batch.create_namespaced_job("default", _job("later", ["true"], suspend=True))
    wait_for(lambda: _condition(batch, "later", "Suspended"), what="Suspended")
    assert not core.list_namespaced_pod("default", label_selector="job-name=later").items
    batch.patch_namespaced_job("later", "default", {"spec": {"suspend": False}})
    wait_for(lambda: _condition(batch, "later", "Complete"), what="Complete")
    job = batch.read_namespaced_job("later", "default")
    suspended = next(c for c in job.status.conditions if c.type == "Suspended")
    assert suspended.status == "False" and suspended.reason == "JobResumed"


def test_active_deadline_fails_the_job_and_stops_its_pods(kube: Any) -> None:
    batch, core = client.BatchV1Api(kube), client.CoreV1Api(kube)
    batch.create_namespaced_job("default", _job("slow", ["sleep", "300"],
                                                activeDeadlineSeconds=2))
    cond = wait_for(lambda: _condition(batch, "slow", "Failed"), what="DeadlineExceeded")
    assert cond.reason == "DeadlineExceeded"
    wait_for(lambda: not core.list_namespaced_pod("default",
                                                 label_selector="job-name=slow").items,
             what="the Job's pods to be deleted")


def test_finished_job_is_deleted_after_its_ttl(kube: Any) -> None:
    batch = client.BatchV1Api(kube)
    batch.create_namespaced_job("default", _job("brief", ["true"], ttlSecondsAfterFinished=1))

    def gone() -> bool:
        try:
            batch.read_namespaced_job("brief", "default")
        except ApiException as exc:
            return exc.status == 404
        return False

    wait_for(gone, what="the Job to be deleted after its TTL")
