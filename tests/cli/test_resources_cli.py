"""`flowyard apply|get|describe|delete|wait|logs` as a user types them (no server: the
client runs the API in-process)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from flowyard.cli.main import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def _stop_in_process_plane() -> Iterator[None]:
    yield
    from flowyard.client import close_local

    close_local()

MANIFESTS = """
apiVersion: kubeflow.org/v1
kind: TFJob
metadata:
  name: mnist
  labels: {team: vision}
spec:
  tfReplicaSpecs:
    Worker:
      replicas: 2
      template:
        spec:
          containers: [{name: tensorflow, image: "tf:2"}]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
spec:
  resources: {requests: {storage: 1Gi}}
"""


def fy(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = runner.invoke(app, list(args), input=stdin)
    return result.exit_code, result.output


def test_apply_get_describe_delete(tmp_path: Path) -> None:
    path = tmp_path / "jobs.yaml"
    path.write_text(MANIFESTS)
    code, out = fy("apply", "-f", str(path))
    assert code == 0, out
    assert "tfjob.kubeflow.org/mnist created" in out
    assert "persistentvolumeclaim/data created" in out
    code, out = fy("apply", "-f", str(path))
    assert "tfjob.kubeflow.org/mnist unchanged" in out

    code, out = fy("get", "tfjobs")
    assert code == 0 and "mnist" in out
    code, out = fy("get", "tfjob", "mnist", "-o", "json")
    assert json.loads(out)["spec"]["tfReplicaSpecs"]["Worker"]["replicas"] == 2
    code, out = fy("get", "tfjob", "mnist", "-o", "yaml")
    assert yaml.safe_load(out)["metadata"]["labels"] == {"team": "vision"}
    code, out = fy("get", "tfjob", "-o", "wide", "-l", "team=vision")
    assert "team=vision" in out
    code, out = fy("get", "tfjob", "-l", "team=nlp")
    assert "No resources found" in out
    # As in Kubernetes, a namespace must exist before anything is created in it.
    namespace = "apiVersion: v1\nkind: Namespace\nmetadata: {name: team-b}\n---\n"
    code, out = fy("apply", "-f", "-", "-n", "team-b",
                   stdin=namespace + MANIFESTS.split("---")[0])
    assert code == 0, out
    code, out = fy("get", "tfjobs", "-A")
    assert code == 0 and "team-b" in out and "default" in out, out

    code, out = fy("describe", "tfjob", "mnist")
    assert code == 0 and "NoController" in out and "tfReplicaSpecs" in out

    code, out = fy("wait", "pvc", "data", "--for", "condition=Bound", "--timeout", "30")
    assert code == 0, out
    code, out = fy("describe", "pvc", "data")
    assert "Provisioned" in out and "Bound" in out

    code, out = fy("logs", "tfjob", "mnist")
    assert code == 1 and "no controller handles TFJob" in out

    code, out = fy("delete", "tfjob", "mnist")
    assert code == 0 and "tfjob.kubeflow.org/mnist deleted" in out
    code, out = fy("get", "tfjob", "mnist")
    assert code == 1 and "not found" in out


def test_apply_from_stdin_and_a_folder(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(MANIFESTS.split("---")[0])
    (tmp_path / "b.yml").write_text(MANIFESTS.split("---")[1])
    code, out = fy("apply", "-f", str(tmp_path))
    assert code == 0 and out.count("created") == 2
    changed = MANIFESTS.split("---")[0].replace("replicas: 2", "replicas: 3")
    code, out = fy("apply", "-f", "-", stdin=changed)
    assert code == 0 and "tfjob.kubeflow.org/mnist configured" in out


def test_invalid_objects_name_the_field() -> None:
    bad = MANIFESTS.split("---")[0].replace("      replicas: 2\n", "      replicas: -2\n")
    code, out = fy("apply", "-f", "-", stdin=bad)
    assert code == 1
    assert "spec.tfReplicaSpecs.Worker.replicas" in out
    code, out = fy("get", "gadget")
    assert code == 1 and "unknown kind 'gadget'" in out
