"""Fixtures for the lab playbook tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def tmp_inventory_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory for a throw-away inventory."""
    yield tmp_path / "inv"
