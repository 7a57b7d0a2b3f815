"""scripts/install_collections.py: which requirements the installed collections miss."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location(
    "install_collections", ROOT / "scripts" / "install_collections.py"
)
assert spec and spec.loader
mod = importlib.util.module_from_spec(spec)
sys.modules["install_collections"] = mod
spec.loader.exec_module(mod)


def test_satisfied_range_needs_nothing() -> None:
    found = {"community.docker": [Version("4.8.5")]}
    assert mod.missing([{"name": "community.docker", "version": ">=4.0.0,<6.0.0"}], found) == []


def test_out_of_range_or_absent_is_missing() -> None:
    found = {"community.docker": [Version("3.1.0")]}
    reqs = [
        {"name": "community.docker", "version": ">=4.0.0,<6.0.0"},
        {"name": "kubernetes.core", "version": ">=3.0.0"},
    ]
    assert mod.missing(reqs, found) == [
        "community.docker:>=4.0.0,<6.0.0",
        "kubernetes.core:>=3.0.0",
    ]


def test_any_of_several_installed_versions_counts() -> None:
    found = {"ansible.posix": [Version("1.4.0"), Version("2.1.0")]}
    assert mod.missing([{"name": "ansible.posix", "version": ">=2.0.0"}], found) == []


def test_project_requirements_are_met_by_the_bundle() -> None:
    """The pinned ansible package bundles every collection requirements.yml asks for."""
    import yaml

    reqs = yaml.safe_load((ROOT / "requirements.yml").read_text())["collections"]
    galaxy = str(Path(sys.executable).parent / "ansible-galaxy")
    assert mod.missing(reqs, mod.installed_collections(galaxy)) == []
