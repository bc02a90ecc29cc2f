"""The in-process control plane a test starts stops with the test; `server` is a real
`flowyard up` with its default limits (the Kubernetes API tests' fixture, without their
smaller test settings)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.kube.conftest import Cluster, _serve


@pytest.fixture(autouse=True)
def _close_in_process_planes() -> Iterator[None]:
    yield
    from flowyard.client import close_local

    close_local()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    yield from _serve(tmp_path_factory, None, FLOWYARD_MAX_WATCHES_PER_CLIENT="100",
                      FLOWYARD_WATCH_BOOKMARK_SECONDS="60")
