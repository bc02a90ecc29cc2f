"""Pods as processes, driven through the real `kubernetes` client against `flowyard up`."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.controllers.conftest import event_reasons, wait_for

PY = sys.executable


def _pod(name: str, containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"t": name}},
            "spec": {"containers": containers, **spec}}


def _phase(core: client.CoreV1Api, name: str, *phases: str) -> Any:
    pod = core.read_namespaced_pod(name, "default")
    return pod if pod.status.phase in phases else None


def test_pod_runs_its_command_with_env_volumes_and_logs(kube: Any) -> None:
    core = client.CoreV1Api(kube)
    core.create_namespaced_config_map("default", {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"},
        "data": {"color": "blue", "size": "7"}})
    core.create_namespaced_secret("default", {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sec"},
        "stringData": {"token": "s3cr3t-value"}})
    script = ("echo color=$COLOR size=$CFG_size token=$TOKEN name=$POD_NAME ns=$POD_NS "
              "msg='$(GREETING) $$(GREETING)'; cat /etc/cfg/color; echo; ls /etc/cfg; "
              "cat /etc/sec/tok; echo; stat -c %a /etc/sec/tok; cat /etc/info/labels; echo; "
              "pwd; echo ok > /scratch/f && cat /scratch/f")
    core.create_namespaced_pod("default", _pod("env", [{
        "name": "main", "image": "busybox", "command": ["sh", "-c"], "args": [script],
        "workingDir": "/scratch",
        "env": [{"name": "GREETING", "value": "hi"},
                {"name": "COLOR", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "color"}}},
                {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "token"}}},
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "POD_NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}],
        "envFrom": [{"prefix": "CFG_", "configMapRef": {"name": "cfg"}}],
        "volumeMounts": [{"name": "cfg", "mountPath": "/etc/cfg"},
                         {"name": "sec", "mountPath": "/etc/sec"},
                         {"name": "info", "mountPath": "/etc/info"},
                         {"name": "scratch", "mountPath": "/scratch"}]}],
        restartPolicy="Never", volumes=[
            {"name": "cfg", "configMap": {"name": "cfg"}},
            {"name": "sec", "secret": {"secretName": "sec", "defaultMode": 0o400,
                                       "items": [{"key": "token", "path": "tok"}]}},
            {"name": "info", "downwardAPI": {"items": [
                {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
            {"name": "scratch", "emptyDir": {}}]))
    pod = wait_for(lambda: _phase(core, "env", "Succeeded", "Failed"), what="pod to finish")
    log = core.read_namespaced_pod_log("env", "default")
    assert pod.status.phase == "Succeeded", log
    assert "color=blue size=7" in log
    assert "token=***" in log and "s3cr3t-value" not in log  # secret values masked in logs
    assert "name=env ns=default msg=hi $(GREETING)" in log
    lines = log.splitlines()
    assert "blue" in lines and "color" in lines and "size" in lines
    assert "400" in lines  # the secret file's mode
    assert 't="env"' in lines
    assert "/scratch" in lines and "ok" in lines
    st = pod.status.container_statuses[0]
    assert st.state.terminated.exit_code == 0 and st.state.terminated.reason == "Completed"
    assert pod.status.pod_ip and pod.status.host_ip and pod.status.start_time
    assert pod.spec.node_name
    assert pod.status.qos_class == "BestEffort"
    conds = {c.type: c.status for c in pod.status.conditions}
    assert conds["PodScheduled"] == "True" and conds["Initialized"] == "True"
    assert conds["Ready"] == "False"
    reasons = [r for r, _ in event_reasons(kube, "Pod", "env")]
    assert reasons[:1] == ["Scheduled"] and "Started" in reasons
    assert core.read_namespaced_pod_log("env", "default", tail_lines=1).strip() == "ok"


def test_init_containers_run_in_order_before_the_containers(kube: Any) -> None:
    core = client.CoreV1Api(kube)
    core.create_namespaced_pod("default", _pod("init", [
        {"name": "main", "image": "busybox", "command": ["sh", "-c", "cat /w/order"],
         "volumeMounts": [{"name": "w", "mountPath": "/w"}]}],
        restartPolicy="Never", volumes=[{"name": "w", "emptyDir": {}}],
        initContainers=[
            {"name": f"i{n}", "image": "busybox", "command": ["sh", "-c", f"echo i{n} >> /w/order"],
             "volumeMounts": [{"name": "w", "mountPath": "/w"}]} for n in (1, 2)]))
    pod = wait_for(lambda: _phase(core, "init", "Succeeded", "Failed"), what="pod to finish")
    assert pod.status.phase == "Succeeded"
    assert core.read_namespaced_pod_log("init", "default", container="main").split() == [
        "i1", "i2"]
    assert [s.state.terminated.reason for s in pod.status.init_container_statuses] == [
        "Completed", "Completed"]


def test_failing_liveness_probe_restarts_with_back_off(kube: Any) -> None:
    core = client.CoreV1Api(kube)
    core.create_namespaced_pod("default", _pod("sick", [{
        "name": "app", "image": "busybox", "command": ["sleep", "600"],
        "livenessProbe": {"exec": {"command": ["false"]}, "periodSeconds": 1,
                          "failureThreshold": 1}}], terminationGracePeriodSeconds=1))

    def backing_off() -> Any:
        pod = core.read_namespaced_pod("sick", "default")
        st = (pod.status.container_statuses or [None])[0]
        if st and st.restart_count >= 1 and st.state.waiting and \
                st.state.waiting.reason == "CrashLoopBackOff":
            return pod
        return None

    pod = wait_for(backing_off, timeout=90, what="CrashLoopBackOff")
    st = pod.status.container_statuses[0]
    assert st.last_state.terminated is not None
    assert "back-off 10s" in st.state.waiting.message
    events = event_reasons(kube, "Pod", "sick")
    reasons = [r for r, _ in events]
    assert "Unhealthy" in reasons and "Killing" in reasons and "BackOff" in reasons
    msgs = [m for r, m in events if r == "Unhealthy"]
    assert msgs[0].startswith("Liveness probe failed")


def test_pod_over_its_memory_limit_is_oom_killed(kube: Any) -> None:
    core = client.CoreV1Api(kube)
    hog = "x = []\nwhile True: x.append(bytearray(16 * 2**20))"
    core.create_namespaced_pod("default", _pod("hog", [{
        "name": "hog", "image": "python", "command": [PY, "-c", hog],
        "resources": {"limits": {"memory": "64Mi"}}}], restartPolicy="Never"))
    pod = wait_for(lambda: _phase(core, "hog", "Succeeded", "Failed"), what="the hog to end")
    term = pod.status.container_statuses[0].state.terminated
    assert pod.status.phase == "Failed"
    assert term.reason == "OOMKilled" and term.exit_code == 137
    assert pod.status.qos_class == "Burstable"


def test_gpu_request_beyond_the_machine_stays_pending_unschedulable(kube: Any) -> None:
    core = client.CoreV1Api(kube)
    core.create_namespaced_pod("default", _pod("greedy", [{
        "name": "c", "image": "busybox", "command": ["true"],
        "resources": {"limits": {"nvidia.com/gpu": "64"}}}]))

    def unschedulable() -> Any:
        pod = core.read_namespaced_pod("greedy", "default")
        cond = next((c for c in pod.status.conditions or [] if c.type == "PodScheduled"), None)
        return pod if cond is not None and cond.reason == "Unschedulable" else None

    pod = unschedulable_pod = wait_for(unschedulable, what="Unschedulable")
    assert unschedulable_pod.status.phase == "Pending"
    cond = next(c for c in pod.status.conditions if c.type == "PodScheduled")
    assert cond.status == "False"
    assert cond.message.startswith("0/1 nodes are available: 1 Insufficient nvidia.com/gpu")


def test_bad_pod_spec_is_refused_with_the_field_path(kube: Any) -> None:
    core = client.CoreV1Api(kube)
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod("default", {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bad"},
            "spec": {"containers": [{"name": "c", "image": "x",
                                     "ports": [{"containerPort": 70000}]}]}})
    assert err.value.status == 422
    assert "spec.containers[0].ports[0].containerPort" in err.value.body


def test_pod_past_its_active_deadline_fails(kube: Any) -> None:
    core = client.CoreV1Api(kube)
    core.create_namespaced_pod("default", _pod("late", [{
        "name": "c", "image": "busybox", "command": ["sleep", "300"]}],
        activeDeadlineSeconds=1, terminationGracePeriodSeconds=1))
    pod = wait_for(lambda: _phase(core, "late", "Failed"), what="DeadlineExceeded")
    assert pod.status.reason == "DeadlineExceeded"
    assert pod.status.container_statuses[0].state.terminated is not None


def test_sidecar_starts_first_keeps_running_and_stops_after_the_main_container(kube: Any
                                                                               ) -> None:
    core = client.CoreV1Api(kube)
    mount = [{"name": "w", "mountPath": "/w"}]
    core.create_namespaced_pod("default", _pod("side", [{
        "name": "main", "image": "busybox", "volumeMounts": mount,
        "command": ["sh", "-c", "sleep 0.5; cat /w/beat"]}],
        restartPolicy="Never", terminationGracePeriodSeconds=1,
        volumes=[{"name": "w", "emptyDir": {}}],
        initContainers=[{"name": "beat", "image": "busybox", "restartPolicy": "Always",
                         "volumeMounts": mount,
                         "command": ["sh", "-c", "echo alive > /w/beat; exec sleep 300"]}]))
    pod = wait_for(lambda: _phase(core, "side", "Succeeded", "Failed"), what="pod to finish")
    assert pod.status.phase == "Succeeded"  # the sidecar does not hold the pod
    assert core.read_namespaced_pod_log("side", "default", container="main").strip() == "alive"
    side = pod.status.init_container_statuses[0]
    assert side.name == "beat" and side.state.terminated is not None  # stopped after main
    assert pod.status.host_ip
