"""Bad input to playbooks/lab.yml fails early, names the variable or host, changes nothing."""

from __future__ import annotations

import subprocess
from pathlib import Path

from labutil import needs_docker, run_playbook, write_inventory

pytestmark = needs_docker


def docker_names(kind: str) -> set[str]:
    """Names of the engine's containers or networks."""
    cmd = {
        "container": ["docker", "ps", "-a", "--format", "{{.Names}}"],
        "network": ["docker", "network", "ls", "--format", "{{.Name}}"],
    }[kind]
    return set(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split())


def assert_nothing_changed(result: subprocess.CompletedProcess[str]) -> None:
    """The run failed before the images role or any node was touched."""
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "lab_images :" not in out, "images were built before the input was checked"
    assert "pyt_lab_net" not in docker_names("network")
    assert not {n for n in docker_names("container") if n.startswith("pyt-")}


def test_unknown_lab_state_is_refused(tmp_inventory_dir: Path) -> None:
    inv = write_inventory(tmp_inventory_dir, ["pyt-m1"], ["pyt-w1"])
    result = run_playbook(inv, "playbooks/lab.yml", "-e", "lab_state=sideways")
    assert "lab_state must be present or absent, not 'sideways'" in result.stdout
    assert_nothing_changed(result)


def test_zero_managers_is_refused(tmp_inventory_dir: Path) -> None:
    inv = write_inventory(tmp_inventory_dir, [], ["pyt-w1", "pyt-w2"])
    result = run_playbook(inv, "playbooks/lab.yml")
    assert "must hold at least one host of group swarm_managers" in result.stdout
    assert_nothing_changed(result)


def test_host_both_manager_and_worker_is_refused(tmp_inventory_dir: Path) -> None:
    inv = write_inventory(tmp_inventory_dir, ["pyt-m1"], ["pyt-m1", "pyt-w1"])
    result = run_playbook(inv, "playbooks/lab.yml")
    assert "Hosts listed as both manager and worker: pyt-m1" in result.stdout
    assert_nothing_changed(result)


def test_foreign_container_with_a_node_name_is_refused(tmp_inventory_dir: Path) -> None:
    inv = write_inventory(tmp_inventory_dir, ["pyt-m1"], ["pyt-w1"])
    empty = tmp_inventory_dir / "empty.tar"
    empty.write_bytes(b"\0" * 1024)
    subprocess.run(["docker", "import", str(empty), "pyt/empty:1"], check=True, capture_output=True)
    subprocess.run(
        ["docker", "create", "--name", "pyt-w1", "pyt/empty:1", "/nothing"],
        check=True,
        capture_output=True,
    )
    try:
        result = run_playbook(inv, "playbooks/lab.yml")
        assert "A container named pyt-w1 exists and was not created by the lab" in result.stdout
        out = result.stdout + result.stderr
        assert result.returncode != 0, out
        assert "lab_images :" not in out
        assert "pyt_lab_net" not in docker_names("network")
        # the foreign container is untouched
        assert "pyt-w1" in docker_names("container")
        assert "pyt-m1" not in docker_names("container")
    finally:
        subprocess.run(["docker", "rm", "-f", "pyt-w1"], check=False, capture_output=True)
        subprocess.run(["docker", "rmi", "pyt/empty:1"], check=False, capture_output=True)


def test_absent_on_a_lab_that_does_not_exist_is_a_no_op(tmp_inventory_dir: Path) -> None:
    inv = write_inventory(tmp_inventory_dir, ["pyt-m1"], ["pyt-w1"])
    result = run_playbook(inv, "playbooks/lab.yml", "-e", "lab_state=absent")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "changed=0" in result.stdout
