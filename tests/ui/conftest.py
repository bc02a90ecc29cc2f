"""Browser fixtures: `flowyard up` on a free port with a fresh FLOWYARD_HOME (one per test
module), Debian's /usr/bin/chromium through Python Playwright, and a page that fails its test
if any request leaves 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import pytest

from tests.api.conftest import Server
from tests.ui.browser import CHROMIUM


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("ui") / "fyhome"
    srv = Server(home, {"FLOWYARD_HOME": str(home), "FLOWYARD_DATABASE_URL": "",
                        "FLOWYARD_ARTIFACT_ROOT": ""}).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (scripts/test.sh installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update"])
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1440, "height": 1000},
                                  accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    outside: list[str] = []

    def watch(request: Any) -> None:
        url = urlparse(request.url)
        if url.scheme in ("http", "https", "ws", "wss") and url.hostname != "127.0.0.1":
            outside.append(request.url)

    pg.on("request", watch)
    pg.base = server.url  # type: ignore[attr-defined]
    yield pg
    context.close()
    assert outside == [], f"requests left the machine: {outside}"
