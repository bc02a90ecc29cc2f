"""`flowyard.Client`: one Python API for the control plane, the same whether it talks to a
`flowyard up` server over HTTP or runs the API in this process (the embedded default).

    client = flowyard.Client()                      # a running server on this home, else in-process
    client = flowyard.Client("http://127.0.0.1:8765")
    run = client.create_run(my_pipeline, {"n": 3})
    client.wait_for_run(run["run_id"])
    client.apply("tfjob.yaml"); client.get("tfjob", "mnist")
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from flowyard.config import settings
from flowyard.resources import kinds

KFP = "/apis/v2beta1"
FINISHED = ("SUCCEEDED", "FAILED", "SKIPPED", "CANCELED")


class ApiError(Exception):
    def __init__(self, status: int, message: str, body: Any = None) -> None:
        super().__init__(f"{status}: {message}")
        self.status, self.message, self.body = status, message, body


def server_file() -> Path:
    return settings().home / "server.json"


def running_server_url() -> str | None:
    """The URL of a `flowyard up` serving this FLOWYARD_HOME, if one is alive."""
    try:
        info = json.loads(server_file().read_text())
        os.kill(int(info["pid"]), 0)
        return str(info["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


class _LoopTransport(httpx.BaseTransport):
    """Calls the ASGI app on its own event loop (a background thread) from sync code.
    Responses are read whole, so a watch answers when its timeout ends."""

    def __init__(self, app: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.asgi = httpx.ASGITransport(app=app)
        self.loop = loop

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()

        async def call() -> tuple[int, list[tuple[bytes, bytes]], bytes]:
            inner = httpx.Request(request.method, request.url, headers=request.headers,
                                  content=body)
            resp = await self.asgi.handle_async_request(inner)
            data = await resp.aread()
            return resp.status_code, resp.headers.raw, data

        status, headers, data = asyncio.run_coroutine_threadsafe(call(), self.loop).result()
        return httpx.Response(status, headers=headers, content=data, request=request)


_local_http: dict[str, tuple[httpx.Client, Any, Any]] = {}  # key -> (client, plane, loop)
_local_lock = threading.Lock()


def local_http(*, scheduler: bool = False, recover: bool = False) -> httpx.Client:
    """An HTTP client for the API app running in this process: the control plane (launcher,
    controllers) runs in a background loop and drives the runs this process creates. One per
    store per process. No scheduler and no orphan recovery by default: those belong to the one
    `flowyard up`."""
    from flowyard.api.app import create_app
    from flowyard.services.launcher import BackgroundLoop
    from flowyard.services.runtime import ControlPlane

    key = f"{settings().database_url}|{scheduler}|{recover}"
    with _local_lock:
        entry = _local_http.get(key)
        if entry is None:
            bg = BackgroundLoop()
            plane = ControlPlane(scheduler=scheduler, recover=recover)
            app = create_app()
            app.state.services = asyncio.run_coroutine_threadsafe(plane.start(), bg.loop).result()
            client = httpx.Client(transport=_LoopTransport(app, bg.loop),
                                  base_url="http://localhost", timeout=None)
            entry = _local_http[key] = (client, plane, bg)
        return entry[0]


async def _shutdown(plane: Any) -> None:
    await plane.stop()
    rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for t in rest:
        t.cancel()
    await asyncio.gather(*rest, return_exceptions=True)


def close_local() -> None:
    """Stop the in-process control planes (runs still going stay RUNNING for the next
    `flowyard up` to resume) and their loops."""
    with _local_lock:
        entries = list(_local_http.values())
        _local_http.clear()
    for client, plane, bg in entries:
        asyncio.run_coroutine_threadsafe(_shutdown(plane), bg.loop).result(timeout=60)
        bg.loop.call_soon_threadsafe(bg.loop.stop)
        bg.thread.join(timeout=10)
        client.close()


class Client:
    def __init__(self, url: str | None = None, timeout: float = 60.0) -> None:
        url = url or os.environ.get("FLOWYARD_URL") or running_server_url()
        self.url = url
        self.http: httpx.Client = (httpx.Client(base_url=url.rstrip("/"), timeout=timeout)
                                   if url else local_http())

    # plumbing -----------------------------------------------------------------------
    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                json_body: Any = None, **kw: Any) -> Any:
        params = {k: v for k, v in (params or {}).items() if v is not None}
        resp = self.http.request(method, path, params=params, json=json_body, **kw)
        try:
            body = resp.json()
        except ValueError:
            body = resp.text
        if resp.status_code >= 400:
            message = body.get("message") if isinstance(body, dict) else str(body)
            raise ApiError(resp.status_code, message or resp.reason_phrase, body)
        return body

    # KFP: experiments, pipelines, runs ------------------------------------------------
    def create_experiment(self, name: str, description: str = "") -> dict[str, Any]:
        return self.request("POST", f"{KFP}/experiments",
                            json_body={"display_name": name, "description": description})

    def get_experiment(self, experiment_id: str) -> dict[str, Any]:
        return self.request("GET", f"{KFP}/experiments/{experiment_id}")

    def list_experiments(self, **params: Any) -> dict[str, Any]:
        return self.request("GET", f"{KFP}/experiments", params=params)

    def upload_pipeline(self, path: str | Path, name: str | None = None,
                        description: str | None = None) -> dict[str, Any]:
        p = Path(path)
        with p.open("rb") as f:
            return self.request("POST", f"{KFP}/pipelines/upload",
                                params={"name": name or p.stem, "description": description},
                                files={"uploadfile": (p.name, f, "application/x-yaml")})

    def create_run(self, pipeline: Any, arguments: dict[str, Any] | None = None, *,
                   run_name: str | None = None, experiment_id: str | None = None
                   ) -> dict[str, Any]:
        """Run a pipeline: a @dsl.pipeline, a compiled YAML/JSON path, or an IR dict."""
        from flowyard.pipelines.loader import load_pipeline

        doc = load_pipeline(pipeline)
        spec: dict[str, Any] = ({"pipeline_spec": doc.spec, "platform_spec": doc.platform_spec}
                                if doc.platform_spec else doc.spec)
        body = {"display_name": run_name or "", "pipeline_spec": spec,
                "runtime_config": {"parameters": arguments or {}},
                "experiment_id": experiment_id}
        return self.request("POST", f"{KFP}/runs", json_body=body)

    def create_run_from_version(self, pipeline_id: str, version_id: str | None = None,
                                arguments: dict[str, Any] | None = None,
                                run_name: str | None = None,
                                experiment_id: str | None = None) -> dict[str, Any]:
        body = {"display_name": run_name or "", "experiment_id": experiment_id,
                "pipeline_version_reference": {"pipeline_id": pipeline_id,
                                               "pipeline_version_id": version_id},
                "runtime_config": {"parameters": arguments or {}}}
        return self.request("POST", f"{KFP}/runs", json_body=body)

    def get_run(self, run_id: str) -> dict[str, Any]:
        return self.request("GET", f"{KFP}/runs/{run_id}")

    def list_runs(self, **params: Any) -> dict[str, Any]:
        return self.request("GET", f"{KFP}/runs", params=params)

    def terminate_run(self, run_id: str) -> None:
        self.request("POST", f"{KFP}/runs/{run_id}:terminate")

    def retry_run(self, run_id: str) -> None:
        self.request("POST", f"{KFP}/runs/{run_id}:retry")

    def wait_for_run(self, run_id: str, timeout: float = 600.0, poll: float = 0.2
                     ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            run = self.get_run(run_id)
            if run.get("state") in FINISHED:
                return run
            if time.monotonic() > deadline:
                raise TimeoutError(f"run {run_id} still {run.get('state')} after {timeout}s")
            time.sleep(poll)

    def create_recurring_run(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", f"{KFP}/recurringruns", json_body=body)

    # resources ----------------------------------------------------------------------
    @staticmethod
    def kind(name: str) -> kinds.KindInfo:
        found = kinds.lookup(name)
        if len(found) != 1:
            known = ", ".join(sorted({k.kind for k in kinds.KINDS}))
            what = "ambiguous" if found else "unknown"
            raise ApiError(400, f"{what} kind {name!r}; known kinds: {known} (or use "
                                f"plural.group, e.g. experiments.kubeflow.org)")
        return found[0]

    @staticmethod
    def path(info: kinds.KindInfo, namespace: str = "default", name: str = "") -> str:
        base = f"/apis/{info.group}/{info.version}" if info.group else f"/api/{info.version}"
        if info.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{info.plural}"
        return f"{base}/{name}" if name else base

    def apply(self, obj: dict[str, Any], namespace: str = "default") -> tuple[str, dict[str, Any]]:
        """Create the object or update its spec; returns ("created"|"configured"|"unchanged",
        the stored object)."""
        if not isinstance(obj, dict) or not obj.get("apiVersion") or not obj.get("kind"):
            raise ApiError(400, "each document needs apiVersion and kind")
        info = kinds.kind_for(str(obj["apiVersion"]), str(obj["kind"]))
        meta = obj.get("metadata") or {}
        ns = (meta.get("namespace") or namespace) if info.namespaced else ""
        name = str(meta.get("name") or "")
        if name:
            try:
                current = self.request("GET", self.path(info, ns, name))
            except ApiError as exc:
                if exc.status != 404:
                    raise
            else:
                body = dict(obj)
                body.pop("status", None)
                updated = self.request("PUT", self.path(info, ns, name), json_body=body)
                same = updated["metadata"]["resourceVersion"] == current["metadata"][
                    "resourceVersion"]
                return ("unchanged" if same else "configured"), updated
        return "created", self.request("POST", self.path(info, ns), json_body=obj)

    def get(self, kind: str, name: str = "", namespace: str = "default",
            label_selector: str | None = None) -> Any:
        info = self.kind(kind)
        if name:
            return self.request("GET", self.path(info, namespace, name))
        return self.request("GET", self.path(info, namespace),
                            params={"labelSelector": label_selector})

    def delete(self, kind: str, name: str, namespace: str = "default") -> dict[str, Any]:
        return self.request("DELETE", self.path(self.kind(kind), namespace, name))

    def events(self, kind: str, name: str, namespace: str = "default") -> list[dict[str, Any]]:
        info = self.kind(kind)
        ns = namespace if info.namespaced else "-"  # "-": a cluster-scoped object
        out = self.request("GET", f"/api/v1/namespaces/{ns}/events",
                           params={"fieldSelector": f"involvedObject.kind={info.kind},"
                                                    f"involvedObject.name={name}"})
        return list(out.get("items", []))

    def logs(self, kind: str, name: str, namespace: str = "default") -> str:
        info = self.kind(kind)
        resp = self.http.get(self.path(info, namespace, name) + "/log")
        if resp.status_code >= 400:
            try:
                message = resp.json().get("message", resp.text)
            except ValueError:
                message = resp.text
            raise ApiError(resp.status_code, message)
        return resp.text

    def watch(self, kind: str, namespace: str = "default", resource_version: str | None = None,
              timeout: float = 300.0) -> Iterator[dict[str, Any]]:
        info = self.kind(kind)
        params = {"watch": "true", "resourceVersion": resource_version,
                  "timeoutSeconds": int(timeout)}
        params = {k: v for k, v in params.items() if v is not None}
        with self.http.stream("GET", self.path(info, namespace), params=params,
                              timeout=timeout + 10) as resp:
            if resp.status_code >= 400:
                resp.read()
                raise ApiError(resp.status_code, resp.text)
            for line in resp.iter_lines():
                if line.strip():
                    yield json.loads(line)

    def wait(self, kind: str, name: str, condition: str, namespace: str = "default",
             timeout: float = 300.0, poll: float = 0.3) -> dict[str, Any]:
        """Until the object's status.conditions has `condition` True (or, for `delete`, the
        object is gone). Raises TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                obj = self.get(kind, name, namespace)
            except ApiError as exc:
                if exc.status == 404 and condition.lower() == "delete":
                    return {}
                if exc.status != 404:
                    raise
                obj = None
            if obj is not None and has_condition(obj, condition):
                return obj
            if time.monotonic() > deadline:
                raise TimeoutError(f"{kind} {name}: condition {condition} not met in {timeout}s")
            time.sleep(poll)


def has_condition(obj: dict[str, Any], condition: str) -> bool:
    status = obj.get("status") or {}
    for cond in status.get("conditions") or []:
        if isinstance(cond, dict) and str(cond.get("type", "")).lower() == condition.lower():
            return str(cond.get("status", "")).lower() == "true"
    # Objects that report a phase (PVCs, pods) satisfy "phase=X" style waits too.
    return str(status.get("phase", "")).lower() == condition.lower()
