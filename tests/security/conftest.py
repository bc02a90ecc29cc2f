"""The security tests drive a real `flowyard up`, as the API tests do; the in-process
control plane a test starts stops with the test. `kube_server` is a real `flowyard up` with
its default limits (the Kubernetes API tests' fixture, without their smaller test settings)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.conftest import _close_in_process_planes, server, server_factory  # noqa: F401
from tests.kube.conftest import Cluster, _serve


@pytest.fixture(scope="module")
def kube_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    yield from _serve(tmp_path_factory, None, FLOWYARD_MAX_WATCHES_PER_CLIENT="100",
                      FLOWYARD_WATCH_BOOKMARK_SECONDS="60")
