"""Shared fixtures: every test gets a fresh FLOWYARD_HOME (its own SQLite store and artifact
root); `pg_url` gives a fresh PostgreSQL database where scripts/test.sh started a server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference"


@pytest.fixture(autouse=True)
def fy_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "fyhome"
    monkeypatch.setenv("FLOWYARD_HOME", str(home))
    monkeypatch.delenv("FLOWYARD_DATABASE_URL", raising=False)
    monkeypatch.delenv("FLOWYARD_ARTIFACT_ROOT", raising=False)
    return home


@pytest.fixture
def store(fy_home: Path):  # type: ignore[no-untyped-def]
    from flowyard.store import open_store

    return open_store()


@pytest.fixture
def pg_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    base = os.environ.get("FLOWYARD_TEST_PG_URL")
    if not base:
        pytest.skip("no PostgreSQL server (scripts/test.sh starts one)")
    import sqlalchemy as sa

    name = f"fy_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base.replace("postgresql://", "postgresql+psycopg://"),
                             isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = base.rsplit("/", 1)[0] + f"/{name}"
    monkeypatch.setenv("FLOWYARD_DATABASE_URL", url)
    yield url
    from flowyard.store.store import _stores

    for key in [k for k in _stores if name in k]:
        _stores.pop(key).engine.dispose()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def reference_pipeline(rel: str) -> Path:
    path = REFERENCE / "kfp" / "test_pipelines" / rel
    if not path.exists():
        pytest.skip(f"reference pipelines not found at {path}")
    return path
