"""Artifact bytes over HTTP for the dashboard: download (attachment) and raw (inline, for
image previews). Plain FastAPI routes, registered before NiceGUI takes `/`."""

from __future__ import annotations

import mimetypes
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from flowyard.services import artifacts_view
from flowyard.services.errors import NotFound

PREFIX = "/_flowyard/artifacts"


def download_url(artifact_id: str) -> str:
    return f"{PREFIX}/{artifact_id}/download"


def raw_url(artifact_id: str) -> str:
    return f"{PREFIX}/{artifact_id}/raw"


def _chunks(f: Any) -> Iterator[bytes]:
    try:
        while chunk := f.read(1 << 16):
            yield chunk
    finally:
        f.close()


def register(app: Any) -> None:
    from fastapi import HTTPException
    from fastapi.responses import StreamingResponse

    from flowyard.ui import state

    def _open(artifact_id: str) -> tuple[str, Any, bool]:
        try:
            return artifacts_view.open_for_download(state.services(), artifact_id)
        except NotFound as exc:
            raise HTTPException(404, exc.message) from None

    @app.get(PREFIX + "/{artifact_id}/download", include_in_schema=False)
    async def download(artifact_id: str) -> StreamingResponse:
        name, f, is_zip = _open(artifact_id)
        mime = "application/zip" if is_zip else "application/octet-stream"
        return StreamingResponse(_chunks(f), media_type=mime, headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})

    @app.get(PREFIX + "/{artifact_id}/raw", include_in_schema=False)
    async def raw(artifact_id: str) -> StreamingResponse:
        name, f, _ = _open(artifact_id)
        head = f.read(16)
        mime = next((m for magic, m in artifacts_view.IMAGE_TYPES.items() if head.startswith(magic)),
                    mimetypes.guess_type(name)[0] or "text/plain")

        def body() -> Iterator[bytes]:
            yield head
            yield from _chunks(f)

        # Never let an artifact's HTML run in the dashboard's origin.
        return StreamingResponse(body(), media_type=mime, headers={
            "Content-Security-Policy": "sandbox", "X-Content-Type-Options": "nosniff"})
