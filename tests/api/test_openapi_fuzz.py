"""schemathesis fuzzes every operation of the served OpenAPI: no request makes a 5xx."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.conftest import Server


@pytest.mark.slow
def test_no_server_errors(server_factory: type[Server], tmp_path: Path) -> None:
    # A watch stays open for its timeout; fuzzed timeouts must not hold the run for minutes.
    srv = server_factory({"FLOWYARD_MAX_WATCH_SECONDS": "1"}).start()
    exe = shutil.which("schemathesis") or shutil.which("st")
    cmd = [exe] if exe else [sys.executable, "-m", "schemathesis.cli"]
    proc = subprocess.run(
        [*cmd, "run", f"{srv.url}/openapi.json", "--checks", "not_a_server_error",
         "--max-examples", "8", "--request-timeout", "10", "--seed", "4",
         "--phases", "coverage,fuzzing,stateful"],
        cwd=tmp_path, capture_output=True, text=True, timeout=240)
    report = proc.stdout[-6000:] + proc.stderr[-2000:]
    assert proc.returncode == 0, report
    assert "Traceback" not in srv.log.read_text(), srv.log.read_text()[-4000:]
