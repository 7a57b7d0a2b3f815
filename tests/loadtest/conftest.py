"""Shared fixtures of the load test tests: recorded CSVs and the live counter app."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from loadtest_app_runner import app_available, app_server  # noqa: E402


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """Recorded locust runs: one directory per run."""
    return HERE / "fixtures"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return HERE.parents[1]


@pytest.fixture
def app_url() -> Iterator[str]:
    """Base URL of the counter app (app/counter under gunicorn, 2 workers, a real
    redis-server) on free loopback ports; both are stopped (SIGTERM, then SIGKILL of their
    process groups) whatever the test does. `make test` installs redis-server."""
    if not app_available():
        pytest.fail("gunicorn and redis-server are needed (make bootstrap installs them)")
    with app_server(workers=2) as url:
        yield url
