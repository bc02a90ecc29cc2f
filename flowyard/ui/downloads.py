"""Artifact bytes over HTTP for the dashboard: download (attachment) and raw (inline, for
image previews). Plain FastAPI routes, registered before NiceGUI takes `/`."""

from __future__ import annotations

import mimetypes
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from flowyard.services import artifacts_view
from flowyard.services.errors import Forbidden, NotFound

PREFIX = "/_flowyard/artifacts"


def download_url(artifact_id: str) -> str:
    return f"{PREFIX}/{artifact_id}/download"


def raw_url(artifact_id: str) -> str:
    return f"{PREFIX}/{artifact_id}/raw"


def register(app: Any) -> None:
    from fastapi import HTTPException
    from fastapi.responses import StreamingResponse

    from flowyard.ui import state

    def _open(artifact_id: str) -> artifacts_view.Download:
        try:
            return artifacts_view.open_for_download(state.services(), artifact_id)
        except (NotFound, Forbidden) as exc:
            raise HTTPException(exc.status, exc.message) from None

    # Plain `def` routes: the lookup and the first read run in a worker thread, and the
    # body, a sync iterator, is read (and a folder zipped) in worker threads too, so a large
    # download never stalls the event loop and everything else it serves.
    @app.get(PREFIX + "/{artifact_id}/download", include_in_schema=False)
    def download(artifact_id: str) -> StreamingResponse:
        d = _open(artifact_id)
        return StreamingResponse(d.chunks, media_type=d.media_type, headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(d.name)}",
            "X-Content-Type-Options": "nosniff"})

    @app.get(PREFIX + "/{artifact_id}/raw", include_in_schema=False)
    def raw(artifact_id: str) -> StreamingResponse:
        d = _open(artifact_id)
        head = next(d.chunks, b"")
        mime = next((m for magic, m in artifacts_view.IMAGE_TYPES.items() if head.startswith(magic)),
                    mimetypes.guess_type(d.name)[0] or "text/plain")
        if d.is_zip:
            mime = "application/zip"

        def body() -> Iterator[bytes]:
            yield head
            yield from d.chunks

        # Never let an artifact's HTML run in the dashboard's origin.
        return StreamingResponse(body(), media_type=mime, headers={
            "Content-Security-Policy": "sandbox", "X-Content-Type-Options": "nosniff"})
