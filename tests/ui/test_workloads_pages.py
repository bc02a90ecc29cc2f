"""The Workloads area in real Chromium against `flowyard up`: objects created through the
services layer in the server's own store (as the API and the controllers write them), with
statuses as Kubernetes writes them; the lists per namespace, a pod page (containers, command,
restarts, state history, events, the log followed as it grows), a Job's and a Deployment's
pods, a Service's endpoints."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from flowyard.services import resources, workloads_view
from flowyard.services.context import Services
from flowyard.services.launcher import Launcher
from tests.api.conftest import Server
from tests.services.test_workloads_view import NS, owner, pod, running, ts
from tests.ui.browser import by_id, go, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def svc(server: Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    """The services layer over the server's store (same FLOWYARD_HOME, through the database)."""
    from flowyard.store import open_store

    monkeypatch.setenv("FLOWYARD_HOME", str(server.home))
    store = open_store()
    yield Services(store, Launcher(asyncio.new_event_loop(), store))


def _ref(kind: workloads_view.WorkloadKind, name: str = "") -> resources.Ref:
    return resources.Ref(kind.group, kind.version, kind.plural, NS, name)


def make(svc: Services, kind: workloads_view.WorkloadKind, body: dict[str, Any],
         status: dict[str, Any] | None = None) -> dict[str, Any]:
    api_version = f"{kind.group}/{kind.version}" if kind.group else kind.version
    obj = resources.create(svc, _ref(kind), {"apiVersion": api_version, "kind": kind.kind,
                                             **body})
    if status is not None:
        obj = resources.replace_status(svc, _ref(kind, obj["metadata"]["name"]),
                                       {"status": status})
    return obj


def status(svc: Services, kind: workloads_view.WorkloadKind, name: str,
           value: dict[str, Any]) -> None:
    resources.replace_status(svc, _ref(kind, name), {"status": value})


def crash_looping(restarts: int) -> dict[str, Any]:
    return {"phase": "Running", "podIP": "10.89.0.9", "startTime": ts(600), "containerStatuses": [
        {"name": "main", "image": "python:3.11", "ready": False, "restartCount": restarts,
         "state": {"waiting": {"reason": "CrashLoopBackOff",
                               "message": "back-off 40s restarting failed container"}},
         "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled",
                                      "startedAt": ts(70), "finishedAt": ts(60)}}}]}


def test_workloads_lists_and_pages(page: Any, svc: Services, server: Server) -> None:
    from flowyard.store.resources import ResourceStore

    dep = make(svc, workloads_view.DEPLOYMENT, {"metadata": {"name": "web"}, "spec": {
        "replicas": 2, "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}},
                     "spec": {"containers": [{"name": "main", "image": "python:3.11"}]}}}},
        {"replicas": 2, "readyReplicas": 2, "updatedReplicas": 2, "availableReplicas": 2})
    rs = make(svc, workloads_view.REPLICASET, {"metadata": {
        "name": "web-7f9c", "ownerReferences": owner(dep),
        "annotations": {"deployment.kubernetes.io/revision": "1"}}, "spec": {
        "replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "main", "image": "python:3.11"}]}}}},
        {"replicas": 2, "readyReplicas": 2})
    for i in range(2):
        make(svc, workloads_view.POD, pod(f"web-7f9c-{i}", owner(rs)), running())
    job = make(svc, workloads_view.JOB, {"metadata": {"name": "train"}, "spec": {
        "completions": 3, "parallelism": 2, "template": {"spec": {
            "restartPolicy": "Never", "containers": [
                {"name": "main", "image": "python:3.11", "command": ["python", "train.py"]}]}}}},
        {"startTime": ts(30), "succeeded": 2, "active": 1})
    done = {"phase": "Succeeded", "containerStatuses": [
        {"name": "main", "ready": False, "restartCount": 0,
         "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}
    for i in range(3):
        make(svc, workloads_view.POD, pod(f"train-{i}", owner(job), {"job-name": "train"}),
             done if i < 2 else running())
    make(svc, workloads_view.SERVICE, {"metadata": {"name": "web"}, "spec": {
        "clusterIP": "10.96.0.12", "selector": {"app": "web"},
        "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]}})
    make(svc, workloads_view.POD, pod("crashy", labels={"app": "crashy"},
                                    command=["python", "-c", "import x; x.go()"]),
         {"phase": "Pending", "containerStatuses": [
             {"name": "main", "ready": False, "restartCount": 0,
              "state": {"waiting": {"reason": "ContainerCreating"}}}]})
    status(svc, workloads_view.POD, "crashy", crash_looping(3))
    ResourceStore(svc.store).add_event("Pod", NS, "crashy", "BackOff",
                                       "Back-off restarting failed container main",
                                       type="Warning")

    go(page, f"/workloads?ns={NS}")
    page.get_by_role("listitem").filter(has_text="Workloads").first.wait_for()
    pods = by_id(page, "pods-table")
    crashy = pods.locator("tr", has_text="crashy")
    crashy.get_by_text("CrashLoopBackOff").wait_for()
    assert "0/1" in crashy.inner_text() and "3 (" in crashy.inner_text()
    assert "Job/train" in pods.locator("tr", has_text="train-2").inner_text()
    assert by_id(page, "tab-pods").inner_text().strip().endswith("(6)")
    shot(page, "workloads-pods")
    # Live: the list follows the store without a reload.
    status(svc, workloads_view.POD, "train-2", done)
    pods.locator("tr", has_text="train-2").get_by_text("Completed").wait_for()
    by_id(page, "tab-jobs").click()
    jobs = by_id(page, "jobs-table")
    jobs.locator("tr", has_text="train").get_by_text("2/3").wait_for()
    shot(page, "workloads-jobs")
    by_id(page, "tab-deployments").click()
    by_id(page, "deployments-table").locator("tr", has_text="web").get_by_text("2/2").wait_for()
    by_id(page, "tab-services").click()
    by_id(page, "services-table").get_by_text("10.96.0.12").wait_for()
    shot(page, "workloads-services")

    # The pod page: a container that crash-loops after an OOM kill.
    log = workloads_view.container_log_path(NS, "crashy", "main")
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("starting\nallocating a big list\n")
    workloads_view.container_log_path(NS, "crashy", "main", previous=True).write_text(
        "the run that was OOMKilled\n")
    by_id(page, "tab-pods").click()
    pods.get_by_text("crashy", exact=True).click()
    page.wait_for_url(f"{server.url}/workloads/{NS}/pods/crashy")
    by_id(page, "pod-status").get_by_text("CrashLoopBackOff").wait_for()
    card = by_id(page, "container-main")
    assert "restarts 3" in card.inner_text()
    assert "OOMKilled" in card.inner_text() and "exit code 137" in card.inner_text()
    assert "python -c 'import x; x.go()'" in by_id(page, "container-command").inner_text()
    shot(page, "pod-containers")

    page.get_by_role("tab", name="State history").click()
    history = by_id(page, "history-table")
    history.get_by_text("ContainerCreating").first.wait_for()
    rows = history.locator("tbody tr").all_inner_texts()
    assert [r.split("\t")[1] for r in rows] == ["Pending", "ContainerCreating",
                                                "CrashLoopBackOff"], rows
    # A restart the kubelet records later shows up on the open page.
    status(svc, workloads_view.POD, "crashy", crash_looping(4))
    history.get_by_text("restarts 4").wait_for()
    page.get_by_role("tab", name="Events").click()
    by_id(page, "events-table").get_by_text("Back-off restarting failed container").wait_for()
    shot(page, "pod-history-events")

    page.get_by_role("tab", name="Logs").click()
    view = by_id(page, "pod-log")
    view.get_by_text("allocating a big list").wait_for()
    with log.open("a") as f:  # the container writes on: the view follows
        f.write("still going\n")
    view.get_by_text("still going").wait_for()
    by_id(page, "log-previous").click()
    by_id(page, "pod-log").get_by_text("the run that was OOMKilled").wait_for()
    shot(page, "pod-logs")

    go(page, f"/workloads/{NS}/pods/train-0")
    by_id(page, "pod-controller").click()
    page.wait_for_url(f"{server.url}/workloads/{NS}/jobs/train")
    job_pods = by_id(page, "job-pods")
    for i in range(3):
        job_pods.get_by_text(f"train-{i}", exact=True).wait_for()
    assert job_pods.locator("tbody tr").count() == 3
    shot(page, "job-page")
    go(page, f"/workloads/{NS}/deployments/web")
    dep_pods = by_id(page, "deployment-pods")
    dep_pods.get_by_text("web-7f9c-1", exact=True).wait_for()
    assert dep_pods.locator("tbody tr").count() == 2
    by_id(page, "replicasets-table").get_by_text("web-7f9c").wait_for()
    shot(page, "deployment-page")
    go(page, f"/workloads/{NS}/services/web")
    assert by_id(page, "service-pods").locator("tbody tr").count() == 2
    go(page, f"/workloads/{NS}/pods/no-such-pod")
    page.get_by_text("no Pod 'no-such-pod'").wait_for()
