"""How a handler reaches the services the app was started with."""

from __future__ import annotations

from fastapi import Request

from flowyard.services.context import Services
from flowyard.services.errors import ApiError


class NotReady(ApiError):
    status, code = 503, 14  # UNAVAILABLE


def services(request: Request) -> Services:
    svc = getattr(request.app.state, "services", None)
    if svc is None:
        raise NotReady("the control plane is starting; try again in a moment")
    return svc
