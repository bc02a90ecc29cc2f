"""Every failure leaves as JSON with a 4xx status and a message: KFP's {code, message,
details} on the KFP API, a Kubernetes Status on the resources API."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flowyard.services.errors import ApiError, InvalidArgument, NotFound
from flowyard.services.resources import error_status

log = logging.getLogger("flowyard.api")
_GRPC = {400: 3, 401: 16, 403: 7, 404: 5, 405: 12, 409: 6, 413: 8, 415: 3, 503: 14}


def error_body(path: str, exc: ApiError) -> dict[str, Any]:
    """KFP's error shape on the KFP API, a Kubernetes Status on the Kubernetes API (what
    kubectl and the kubernetes client read)."""
    if (path.startswith("/apis") and not path.startswith("/apis/v2beta1/")) or path.startswith(
            ("/api/", "/openapi/")) or path in ("/api", "/version"):
        return error_status(exc)
    return exc.to_json()


def _respond(request: Request, exc: ApiError) -> JSONResponse:
    return JSONResponse(error_body(request.url.path, exc), status_code=exc.status)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _respond(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            problems.append(f"{where or 'body'}: {err.get('msg', 'invalid')}")
        return _respond(request, InvalidArgument("; ".join(problems) or "invalid request"))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        error = NotFound(str(exc.detail)) if exc.status_code == 404 else ApiError(str(exc.detail))
        error.status = exc.status_code
        error.code = _GRPC.get(exc.status_code, 2)
        response = _respond(request, error)
        if exc.headers:
            response.headers.update(exc.headers)
        return response



class CrashGuard:
    """The outermost middleware: an exception nothing else handled becomes a JSON 500 that
    names an id to find the traceback by in the server's log, and the connection stays
    open. (Starlette's own last handler re-raises after answering, which makes the server
    drop the keep-alive connection; and an exception's text can hold SQL or paths.)"""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            if started:
                raise  # a response cut short must not look complete: the server closes it
            incident = uuid.uuid4().hex[:12]
            log.exception("unhandled error %s on %s %s", incident, scope.get("method"),
                          scope.get("path"))
            error = ApiError(f"internal error {incident}: the server's log has the details")
            response = JSONResponse(error_body(scope.get("path", ""), error), status_code=500)
            await response(scope, receive, send)
