"""Check every JSON request body once, before any handler decodes it: valid Unicode text and
bounded nesting (flowyard/services/json_checks.py). A bad body is a 400 naming the member,
whichever API it was sent to; a good one reaches the handler byte for byte."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flowyard.api.errors import error_body
from flowyard.services.errors import InvalidArgument
from flowyard.services.json_checks import MAX_DEPTH, check_document

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _is_json(content_type: bytes) -> bool:
    kind = content_type.split(b";")[0].strip().lower()
    return kind == b"application/json" or kind.endswith(b"+json")


class JsonBodyGuard:
    """Install inside the body size limit: the body it buffers is already bounded."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in WRITE_METHODS or not _is_json(
                dict(scope["headers"]).get(b"content-type", b"")):
            await self.app(scope, receive, send)
            return
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        problem = _problem(body)
        if problem is not None:
            data = json.dumps(error_body(scope.get("path", ""), problem)).encode()
            await send({"type": "http.response.start", "status": 400, "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode())]})
            await send({"type": "http.response.body", "body": data})
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _problem(body: bytes) -> InvalidArgument | None:
    if not body.strip():
        return None  # the handler says what it expected
    try:
        doc = json.loads(body)
    except RecursionError:
        return InvalidArgument(f"body: nested deeper than {MAX_DEPTH} levels")
    except ValueError:
        return None  # not JSON: the handler answers that in its own words
    try:
        check_document(doc)
    except InvalidArgument as exc:
        return exc
    return None
