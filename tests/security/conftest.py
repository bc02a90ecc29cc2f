"""The security tests drive a real `flowyard up`, as the API tests do; the in-process
control plane a test starts stops with the test."""

from tests.api.conftest import _close_in_process_planes, server, server_factory  # noqa: F401
