"""The Workloads area in real Chromium against `flowyard up` running real workloads: a
Deployment of 2 replicas, a Job (completions 3, parallelism 2), a Service, a pod that writes
its log over a few seconds and one that keeps crashing, applied through the services layer into
the server's store and run by its controllers and kubelet. The lists per namespace, a pod page
(command, state history, restarts, events, the log followed as it grows, the previous run's
log), a Job's and a Deployment's pods, a Service's endpoints."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from flowyard.services import resources, workloads_view
from flowyard.services.context import Services
from flowyard.services.launcher import Launcher
from tests.api.conftest import Server
from tests.ui.browser import by_id, go, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]
NS = "default"
PY = sys.executable


@pytest.fixture
def svc(server: Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    """The services layer over the server's store (same FLOWYARD_HOME, through the database);
    the server's controllers pick up what is written there."""
    from flowyard.store import open_store

    monkeypatch.setenv("FLOWYARD_HOME", str(server.home))
    store = open_store()
    yield Services(store, Launcher(asyncio.new_event_loop(), store))


def container(command: str, name: str = "main") -> dict[str, Any]:
    return {"name": name, "image": "python:3.11", "command": [PY, "-c", command]}


def template(labels: dict[str, str], command: str, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"labels": labels}, "spec": {"containers": [container(command)], **spec}}


def wait(check: Callable[[], Any], what: str, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_real_workloads_in_the_dashboard(page: Any, svc: Services, server: Server) -> None:
    apply = [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {
            "replicas": 2, "selector": {"matchLabels": {"app": "web"}},
            "template": template({"app": "web"},
                                 "import time; print('serving', flush=True); time.sleep(600)")}},
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "train"}, "spec": {
            "completions": 3, "parallelism": 2, "template": template(
                {"job": "train"}, "print('epoch done')", restartPolicy="Never")}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": {
            "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "chatty"}, "spec": {
            "restartPolicy": "Never", "containers": [container(
                "import time\nprint('line one', flush=True)\ntime.sleep(3)\n"
                "print('line two', flush=True)\ntime.sleep(1)")]}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "crashy"}, "spec": {
            "restartPolicy": "Always", "containers": [container(
                "import sys; print('boom', flush=True); sys.exit(3)")]}},
    ]
    for obj in apply:
        resources.apply(svc, obj, NS)

    go(page, f"/workloads?ns={NS}")
    page.get_by_role("listitem").filter(has_text="Workloads").first.wait_for()
    pods = by_id(page, "pods-table")
    pods.locator("tr", has_text="chatty").get_by_text("Running").wait_for(timeout=60_000)
    assert "1/1" in pods.locator("tr", has_text="chatty").inner_text()
    shot(page, "workloads-pods")

    # The pod page follows chatty's log as it is written, and its end.
    pods.get_by_text("chatty", exact=True).click()
    page.wait_for_url(f"{server.url}/workloads/{NS}/pods/chatty")
    assert "line one" in by_id(page, "container-command").inner_text()  # the command it ran
    page.get_by_role("tab", name="Logs").click()
    view = by_id(page, "pod-log")
    view.get_by_text("line one").wait_for(timeout=30_000)
    assert view.get_by_text("line two").count() == 0  # not written yet: the view follows
    view.get_by_text("line two").wait_for(timeout=30_000)
    by_id(page, "pod-status").get_by_text("Completed").wait_for(timeout=30_000)
    page.get_by_role("tab", name="State history").click()
    history = by_id(page, "history-table")
    history.get_by_text("Completed").first.wait_for()
    statuses = [r.split("\t")[1] for r in history.locator("tbody tr").all_inner_texts()]
    assert statuses[-1] == "Completed" and "Running" in statuses, statuses
    shot(page, "pod-history")

    # A container that keeps failing: restarts counted, the previous run's log kept.
    pod = wait(lambda: (p := workloads_view.pod_detail(svc, NS, "crashy"))["containers"][0][
        "restarts"] >= 1 and p, "crashy to restart")
    assert pod["containers"][0]["last_state"] == "terminated"
    go(page, f"/workloads/{NS}/pods/crashy")
    card = by_id(page, "container-main")
    assert "exit code 3" in card.inner_text()
    page.get_by_role("tab", name="Logs").click()
    by_id(page, "log-previous").click()
    by_id(page, "pod-log").get_by_text("boom").first.wait_for()
    page.get_by_role("tab", name="Events").click()
    by_id(page, "events-table").locator("tbody tr").first.wait_for()
    shot(page, "pod-crashy")

    # The Job ran its 3 completions; its page lists its pods.
    wait(lambda: workloads_view.job_detail(svc, NS, "train")["row"]["status"] == "Complete",
         "the Job to complete", timeout=120)
    go(page, f"/workloads/{NS}/jobs/train")
    job_pods = by_id(page, "job-pods")
    job_pods.locator("tbody tr").nth(2).wait_for()
    assert job_pods.locator("tbody tr").count() == 3
    assert all("Completed" in r for r in job_pods.locator("tbody tr").all_inner_texts())
    shot(page, "job-page")
    go(page, f"/workloads?ns={NS}&kind=jobs")
    by_id(page, "jobs-table").locator("tr", has_text="train").get_by_text("3/3").wait_for()

    # The Deployment's two replicas, through its ReplicaSet; the Service's endpoints.
    wait(lambda: workloads_view.deployment_detail(svc, NS, "web")["row"]["ready"] == "2/2",
         "the Deployment to be ready", timeout=120)
    go(page, f"/workloads/{NS}/deployments/web")
    dep_pods = by_id(page, "deployment-pods")
    dep_pods.locator("tbody tr").nth(1).wait_for()
    assert dep_pods.locator("tbody tr").count() == 2
    by_id(page, "replicasets-table").locator("tbody tr").first.wait_for()
    shot(page, "deployment-page")
    first_pod = dep_pods.locator("tbody tr a").first
    first_pod.click()
    by_id(page, "pod-controller").get_by_text("deployment web").wait_for()
    go(page, f"/workloads/{NS}/services/web")
    by_id(page, "service-pods").locator("tbody tr").nth(1).wait_for()
    assert by_id(page, "service-pods").locator("tbody tr").count() == 2
    shot(page, "service-page")
    go(page, f"/workloads/{NS}/pods/no-such-pod")
    page.get_by_text("no Pod 'no-such-pod'").wait_for()
