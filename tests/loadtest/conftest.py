"""Shared fixtures of the load test tests: recorded CSVs and a live stub server."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FIXTURES = HERE / "fixtures"
LOCUST = Path(sys.executable).with_name("locust")

sys.path.insert(0, str(HERE))

from loadtest_stub_runner import stub_server  # noqa: E402


def locust_available() -> bool:
    """True when a locust executable sits next to this python (or on PATH)."""
    return LOCUST.exists() or shutil.which("locust") is not None


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture
def stub_url() -> Iterator[str]:
    """Base URL of the stub counter app under gunicorn on a free loopback port; the server
    is stopped (SIGTERM, then SIGKILL of its process group) whatever the test does."""
    if shutil.which("gunicorn", path=str(LOCUST.parent)) is None and not shutil.which("gunicorn"):
        pytest.skip("gunicorn not installed")
    with stub_server(workers=2) as url:
        yield url
