"""Pod templates are checked inside every kind that holds one; the error names the field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

BAD_SPEC = {"containers": "not-a-list"}


def _refused(call: Any, *args: Any) -> list[str]:
    with pytest.raises(ApiException) as err:
        call(*args)
    assert err.value.status == 422
    body = json.loads(err.value.body)
    assert body["kind"] == "Status" and body["reason"] == "Invalid"
    return [c["field"] for c in body["details"]["causes"]]


def test_pod_templates_are_validated_in_every_kind(kube: Any) -> None:
    custom = client.CustomObjectsApi(kube)
    fields = _refused(custom.create_namespaced_custom_object, "kubeflow.org", "v1", "default",
                      "tfjobs", {"apiVersion": "kubeflow.org/v1", "kind": "TFJob",
                                 "metadata": {"name": "t"}, "spec": {"tfReplicaSpecs": {
                                     "Worker": {"template": {"spec": BAD_SPEC}}}}})
    assert fields == ["spec.tfReplicaSpecs.Worker.template.spec.containers"]
    fields = _refused(custom.create_namespaced_custom_object, "kubeflow.org", "v1", "default",
                      "pytorchjobs", {"apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob",
                                      "metadata": {"name": "p"}, "spec": {
                                          "pytorchReplicaSpecs": {"Master": {"template": {
                                              "spec": {"containers": [{"name": "m"}]}}}}}})
    assert fields == ["spec.pytorchReplicaSpecs.Master.template.spec.containers[0].image"]
    fields = _refused(custom.create_namespaced_custom_object, "kubeflow.org", "v1", "default",
                      "notebooks", {"apiVersion": "kubeflow.org/v1", "kind": "Notebook",
                                    "metadata": {"name": "n"},
                                    "spec": {"template": {"spec": BAD_SPEC}}})
    assert fields == ["spec.template.spec.containers"]
    fields = _refused(custom.create_namespaced_custom_object, "trainer.kubeflow.org",
                      "v1alpha1", "default", "trainingruntimes", {
                          "apiVersion": "trainer.kubeflow.org/v1alpha1",
                          "kind": "TrainingRuntime", "metadata": {"name": "r"},
                          "spec": {"template": {"spec": {"replicatedJobs": [{
                              "name": "node", "template": {"spec": {"template": {
                                  "spec": BAD_SPEC}}}}]}}}})
    assert fields == ["spec.template.spec.replicatedJobs[0].template.spec.template.spec"
                      ".containers"]
    apps = client.AppsV1Api(kube)
    fields = _refused(apps.create_namespaced_deployment, "default", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {
            "metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{
                "name": "c", "image": "x", "env": [{"name": "1BAD", "value": "v"}]}]}}}})
    assert fields == ["spec.template.spec.containers[0].env[0].name"]
