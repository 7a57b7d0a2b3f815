"""Shared fixtures of the load test tests: recorded CSVs and a live stub server."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from loadtest_stub_runner import gunicorn_available, stub_server  # noqa: E402


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """Recorded locust runs: one directory per run."""
    return HERE / "fixtures"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return HERE.parents[1]


@pytest.fixture
def stub_url() -> Iterator[str]:
    """Base URL of the stub counter app under gunicorn (2 workers) on a free loopback port;
    the server is stopped (SIGTERM, then SIGKILL of its process group) whatever the test does."""
    if not gunicorn_available():
        pytest.skip("gunicorn not installed")
    with stub_server(workers=2) as url:
        yield url
