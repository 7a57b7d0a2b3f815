"""Helpers for the lab playbook tests: throw-away inventories and a real Docker engine."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def docker_ok() -> bool:
    """True when a Docker engine answers."""
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0


needs_docker = pytest.mark.skipif(not docker_ok(), reason="no Docker engine answers")

# The controller as inventory host: a local connection with the playbook's own Python.
LOCALHOST = {
    "ansible_connection": "local",
    "ansible_python_interpreter": "{{ ansible_playbook_python }}",
}


def write_inventory(directory: Path, managers: list[str], workers: list[str]) -> Path:
    """Write an inventory like inventory/local.yml with the given node names."""
    inv = {
        "all": {
            "hosts": {"localhost": {**LOCALHOST, "lab_nodes_network": "pyt_lab_net"}},
            "children": {
                "swarm_cluster": {
                    "vars": {"ansible_connection": "community.docker.docker"},
                    "children": {
                        "swarm_managers": {"hosts": dict.fromkeys(managers)},
                        "swarm_workers": {"hosts": dict.fromkeys(workers)},
                    },
                }
            },
        }
    }
    return save_inventory(directory, inv)


def localhost_inventory(directory: Path, children: dict | None = None) -> Path:
    """An inventory of the controller alone (localhost), with the groups *children*."""
    return save_inventory(
        directory, {"all": {"hosts": {"localhost": dict(LOCALHOST)}, "children": children or {}}}
    )


def save_inventory(directory: Path, inv: dict) -> Path:
    """Write *inv* as directory/inventory.yml beside the project's group_vars."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "group_vars").symlink_to(ROOT / "inventory" / "group_vars")
    path = directory / "inventory.yml"
    path.write_text(yaml.safe_dump(inv))
    return path


def run_playbook(inventory: Path, playbook: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run ansible-playbook from the project root and return the finished process."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    env["LAB_ARTIFACTS_DIR"] = str(inventory.parent / "artifacts")
    bindir = Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin"
    exe = bindir / "ansible-playbook"
    cmd = [str(exe if exe.exists() else "ansible-playbook"), "-i", str(inventory), playbook, *extra]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
