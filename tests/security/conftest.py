"""The in-process control plane a test starts stops with the test."""

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _close_in_process_planes() -> Iterator[None]:
    yield
    from flowyard.client import close_local

    close_local()
