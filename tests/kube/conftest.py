"""Fixtures of the Kubernetes manifest tests: the variants, rendered, and a real redis-server.

The redis-server helpers are the counter tests' (tests/app/conftest.py), reused as-is.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from kube.manifests import load_variant, render

# the counter tests' session redis-server fixture, shared rather than copied
from tests.app.conftest import redis_server  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "app" / "k8s"
VARIANTS = ("seed", "lab")
#: A real-looking lab registry address for rendering (the playbook passes registry_address).
REGISTRY = "10.0.0.10:5000"


def k3s_kubernetes_version() -> str:
    """Kubernetes version of the pinned k3s (roles/k3s_install/defaults k3s_version)."""
    defaults = yaml.safe_load((ROOT / "roles/k3s_install/defaults/main.yml").read_text())
    match = re.fullmatch(r"v?(\d+\.\d+\.\d+)\+k3s\d+", str(defaults["k3s_version"]))
    assert match, defaults["k3s_version"]
    return match.group(1)


def by_id(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Objects keyed by ``Kind/name`` (unique within a variant)."""
    out = {f"{o['kind']}/{o['metadata']['name']}": o for o in objects}
    assert len(out) == len(objects), "duplicate Kind/name"
    return out


@pytest.fixture(scope="session")
def lab_objects() -> list[dict[str, Any]]:
    """The fixed variant rendered for REGISTRY (fresh copies for each user: render copies)."""
    return render(load_variant(K8S / "lab"), REGISTRY)


@pytest.fixture
def lab(lab_objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """A private, mutable copy of the rendered fixed variant, keyed by ``Kind/name``."""
    return by_id(render(lab_objects, REGISTRY))
