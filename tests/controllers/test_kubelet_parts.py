"""The kubelet's pure parts: $(VAR) expansion, quantities, requests, phase, QoS, names."""

from __future__ import annotations

import pytest

from flowyard.controllers import dns
from flowyard.controllers.pods import scheduling, status
from flowyard.controllers.pods.expand import expand
from flowyard.resources import quantity


@pytest.mark.parametrize(("text", "want"), [
    ("$(A)-$(B)", "1-2"), ("$$(A)", "$(A)"), ("$(MISSING)", "$(MISSING)"),
    ("$$$(A)", "$1"), ("a$b", "a$b"), ("$(A", "$(A"), ("$", "$"), ("x$$", "x$")])
def test_expansion_as_kubernetes_does(text: str, want: str) -> None:
    assert expand(text, {"A": "1", "B": "2"}) == want


def test_quantities() -> None:
    assert quantity.cpu("250m") == 0.25 and quantity.cpu(2) == 2
    assert quantity.bytes_("1Gi") == 2**30 and quantity.bytes_("1G") == 10**9
    assert quantity.bytes_("1e3") == 1000
    with pytest.raises(ValueError, match="quantity"):
        quantity.parse("1Gx")


def test_pod_requests_take_the_larger_of_init_and_running() -> None:
    spec = {"initContainers": [{"name": "i", "resources": {"requests": {"cpu": "2"}}},
                               {"name": "s", "restartPolicy": "Always",
                                "resources": {"requests": {"memory": "1Mi"}}}],
            "containers": [{"name": "a", "resources": {"limits": {"cpu": "500m",
                                                                  "nvidia.com/gpu": 1}}}]}
    req = scheduling.pod_requests(spec)
    assert req.cpu == 2 and req.memory == 2**20 and req.gpu == 1
    missing = scheduling.insufficient(req, scheduling.Requests(4, 2**30, 0),
                                      scheduling.Requests())
    assert scheduling.unschedulable_message(missing).startswith(
        "0/1 nodes are available: 1 Insufficient nvidia.com/gpu.")


def test_phase_and_qos() -> None:
    ran_ok = {"state": {"terminated": {"exitCode": 0}}}
    failed = {"state": {"terminated": {"exitCode": 1}}}
    assert status.phase("Never", True, False, [ran_ok]) == "Succeeded"
    assert status.phase("Never", True, False, [ran_ok, failed]) == "Failed"
    assert status.phase("OnFailure", True, False, [failed]) == "Running"
    assert status.phase("Always", False, False, []) == "Pending"
    assert status.phase("Never", True, False, [{"state": {"waiting": {}}}]) == "Pending"
    lim = {"cpu": "1", "memory": "1Gi"}
    assert status.qos_class({"containers": [{"resources": {"limits": lim}}]}) == "Guaranteed"
    assert status.qos_class({"containers": [{"resources": {"requests": lim}}]}) == "Burstable"
    assert status.qos_class({"containers": [{}]}) == "BestEffort"


def test_names_a_pod_resolves() -> None:
    svc = {"metadata": {"name": "web", "namespace": "a"}, "spec": {"clusterIP": "10.96.0.9"}}
    head = {"metadata": {"name": "peers", "namespace": "a"},
            "spec": {"clusterIP": "None", "selector": {"app": "p"}}}
    peer = {"metadata": {"name": "p0", "namespace": "a", "labels": {"app": "p"}},
            "spec": {"hostname": "p0", "subdomain": "peers"},
            "status": {"podIP": "10.244.0.7", "conditions": [{"type": "Ready",
                                                              "status": "True"}]}}
    me = {"metadata": {"name": "me", "namespace": "b"}, "spec": {}}
    hosts = dns.table([svc, head], [peer], me, "10.244.0.8")
    assert "web" not in hosts  # short names are the pod's own namespace's
    assert hosts["web.a"] == hosts["web.a.svc.cluster.local"] == "10.96.0.9"
    assert hosts["peers.a.svc"] == "10.244.0.7"
    assert hosts["p0.peers.a.svc.cluster.local"] == "10.244.0.7"
    assert hosts["me"] == "10.244.0.8"
    same_ns = dns.table([svc], [], {"metadata": {"name": "x", "namespace": "a"}, "spec": {}},
                        "10.244.0.9")
    assert same_ns["web"] == "10.96.0.9"
