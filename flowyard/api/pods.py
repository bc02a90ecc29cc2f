"""GET /api/v1/namespaces/{ns}/pods/{name}/log: a container's log as `kubectl logs` and the
kubernetes client's read_namespaced_pod_log ask for it (plain text, streamed with follow)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from flowyard.api.deps import services
from flowyard.services import pod_logs
from flowyard.services.context import Services
from flowyard.services.errors import InvalidArgument

router = APIRouter(tags=["Pods"])


@router.get("/api/v1/namespaces/{namespace}/pods/{name}/log", operation_id="read_pod_log")
async def read_pod_log(namespace: str, name: str, container: str | None = None,
                       follow: bool = False, previous: bool = False,
                       tailLines: int | None = None, sinceSeconds: int | None = None,
                       timestamps: bool = False, limitBytes: int | None = None,
                       svc: Services = Depends(services)) -> StreamingResponse:
    if sinceSeconds is not None and sinceSeconds <= 0:
        raise InvalidArgument("sinceSeconds: must be positive")
    await asyncio.to_thread(pod_logs.check, svc, namespace, name, container, previous)
    chunks = pod_logs.pod_log(svc, namespace, name, container, follow, previous, tailLines,
                              sinceSeconds, timestamps, limitBytes)
    return StreamingResponse(chunks, media_type="text/plain")
