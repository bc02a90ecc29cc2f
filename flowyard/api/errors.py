"""Every failure leaves as JSON with a 4xx status and a message: KFP's {code, message,
details} on the KFP API, a Kubernetes Status on the resources API."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from flowyard.services.errors import ApiError, InvalidArgument, NotFound
from flowyard.services.resources import error_status

log = logging.getLogger("flowyard.api")
_GRPC = {400: 3, 401: 16, 403: 7, 404: 5, 405: 12, 409: 6, 413: 8, 415: 3, 503: 14}


def _respond(request: Request, exc: ApiError) -> JSONResponse:
    path = request.url.path
    if (path.startswith("/apis") and not path.startswith("/apis/v2beta1/")) or path.startswith(
            ("/api/", "/openapi/")) or path in ("/api", "/version"):
        return JSONResponse(error_status(exc), status_code=exc.status)
    return JSONResponse(exc.to_json(), status_code=exc.status)


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

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _respond(request, ApiError(f"internal error: {type(exc).__name__}: {exc}"))
