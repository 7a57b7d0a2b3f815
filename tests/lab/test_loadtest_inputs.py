"""Bad input to loadtest.yml fails before a replica is scaled or Locust starts, naming the
variable (the manager here is the controller itself: nothing below needs a swarm)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from labutil import localhost_inventory, run_playbook


def manager_inventory(directory: Path) -> Path:
    """An inventory whose only swarm manager is this machine (local connection)."""
    return localhost_inventory(directory, {"swarm_managers": {"hosts": {"localhost": None}}})


def assert_refused_early(result: subprocess.CompletedProcess[str], message: str) -> None:
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert message in out, out[-3000:]
    for started in ("Scale the service", "Start Locust", "Restore the replicas"):
        assert started not in out, f"{started!r} ran before the input was checked"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["-e", "loadtest_profile=nope"], "loadtest_profile: error: unknown profile 'nope'"),
        (
            ["-e", "loadtest_capacity_profile=nope"],
            "loadtest_capacity_profile: error: unknown profile 'nope'",
        ),
        (
            ["-e", "loadtest_runner=cloud"],
            "loadtest_runner = 'cloud': must be one of local, swarm (role loadtest)",
        ),
        (
            ["-e", "loadtest_runner=swarm", "-e", "loadtest_workers=0"],
            ">= 1 for the swarm runner (got 0)",
        ),
        (
            ["-e", '{"loadtest_scenarios": [{"name": "a", "replicas": 0}]}'],
            "loadtest_scenarios must be a non-empty list of unique names",
        ),
        (
            ["-e", '{"loadtest_scenarios": [{"name": "a b", "replicas": 1}]}'],
            "loadtest_scenarios must be a non-empty list of unique names",
        ),
        (
            ["-e", "loadtest_target=http://127.0.0.1:9"],
            "loadtest_target http://127.0.0.1:9 does not answer /readyz",
        ),
        (
            ["-e", "loadtest_platform=kubernetes"],
            "loadtest_platform=kubernetes: the Swarm runner and the node probe need the Swarm",
        ),
        (
            ["-e", '{"loadtest_compare": [["swarm-1-replica", "k8s-1-replica"]]}'],
            "loadtest_compare: error: compare[0]: 'k8s-1-replica' is not a think-time run",
        ),
    ],
    ids=[
        "profile",
        "capacity-profile",
        "runner",
        "swarm-workers",
        "replicas",
        "name",
        "target",
        "k8s-probe",
        "compare",
    ],
)
def test_bad_loadtest_input_is_refused(
    tmp_inventory_dir: Path, extra: list[str], message: str
) -> None:
    inv = manager_inventory(tmp_inventory_dir)
    result = run_playbook(inv, "loadtest.yml", *extra)
    assert_refused_early(result, message)
    assert not (tmp_inventory_dir / "artifacts" / "loadtest").exists()
