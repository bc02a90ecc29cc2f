"""The security tests drive a real `flowyard up`, as the API tests do."""

from tests.api.conftest import _close_in_process_planes, server, server_factory  # noqa: F401
