"""Errors every surface understands: an HTTP status, the gRPC code KFP's API reports, and a
message that says what to change."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    status = 500
    code = 13  # gRPC INTERNAL

    def __init__(self, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class InvalidArgument(ApiError):
    status, code = 400, 3


class FailedPrecondition(ApiError):
    status, code = 400, 9


class Forbidden(ApiError):
    """Refused whoever asks: e.g. a file outside the artifact root."""

    status, code = 403, 7


class NotFound(ApiError):
    status, code = 404, 5


class NotSupported(ApiError):
    """A request Kubernetes defines that Flowyard does not serve (yet): said at once, with
    what to do instead, so a client neither hangs nor reads an HTML page."""

    status, code = 405, 12


class AlreadyExists(ApiError):
    status, code = 409, 6


class Aborted(ApiError):
    """An optimistic-concurrency conflict: re-read and try again."""

    status, code = 409, 10


class TooLarge(ApiError):
    status, code = 413, 8
