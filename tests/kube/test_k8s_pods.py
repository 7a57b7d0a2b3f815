"""Which pods of a k8s_info listing serve (plugins/filter/k8s_pods.py), as role k8s_app counts
them in the drain drill: directly, and through Ansible by the filters' FQCN."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.lab.labutil import localhost_inventory, run_playbook
from tests.pathload import load

pods = load("k8s_pods_filter", "plugins/filter/k8s_pods.py")


def pod(
    name: str,
    node: str,
    phase: str = "Running",
    ready: str | None = "True",
    deleting: bool = False,
) -> dict[str, Any]:
    """A pod as kubernetes.core.k8s_info returns it (the fields the filters read)."""
    metadata: dict[str, Any] = {"name": name, "namespace": "counter"}
    if deleting:
        metadata["deletionTimestamp"] = "2026-11-28T12:00:00Z"
    status: dict[str, Any] = {"phase": phase}
    if ready is not None:
        status["conditions"] = [
            {"type": "Initialized", "status": "True"},
            {"type": "Ready", "status": ready},
            {"type": "ContainersReady", "status": ready},
        ]
    return {"metadata": metadata, "spec": {"nodeName": node}, "status": status}


LISTING = [
    pod("a", "n1"),
    pod("b", "n2"),
    pod("c", "n2", ready="False"),  # started, readiness probe not passed yet
    pod("d", "n3", deleting=True),  # evicted by the drain, still in its grace period
    pod("e", "n3", phase="Pending", ready=None),  # replacement not scheduled yet
    pod("f", "n3", ready=None),  # running, no conditions reported yet
]


def names(listing: list[dict[str, Any]]) -> list[str]:
    return [p["metadata"]["name"] for p in listing]


def test_running_leaves_out_pending_and_deleted_pods() -> None:
    assert names(pods.k8s_running_pods(LISTING)) == ["a", "b", "c", "f"]


def test_ready_needs_the_ready_condition_true() -> None:
    assert names(pods.k8s_ready_pods(LISTING)) == ["a", "b"]


def test_excluded_node_is_left_out() -> None:
    assert names(pods.k8s_running_pods(LISTING, "n2")) == ["a", "f"]
    assert names(pods.k8s_ready_pods(LISTING, "n1")) == ["b"]
    # no node to leave out: the same as without
    assert pods.k8s_ready_pods(LISTING, "") == pods.k8s_ready_pods(LISTING)


def test_empty_and_missing_listings() -> None:
    assert pods.k8s_running_pods(None) == []
    assert pods.k8s_ready_pods([]) == []
    assert pods.k8s_ready_pods([{}]) == []


def test_a_single_pod_instead_of_a_list_is_refused() -> None:
    with pytest.raises(TypeError, match="list of pods"):
        pods.k8s_running_pods(LISTING[0])


def test_filters_by_fqcn_in_a_playbook(tmp_path: Path) -> None:
    playbook = tmp_path / "pods.yml"
    playbook.write_text(
        yaml.safe_dump(
            [
                {
                    "name": "k8s_pods filters",
                    "hosts": "localhost",
                    "gather_facts": False,
                    "vars": {"listing": LISTING},
                    "tasks": [
                        {
                            "name": "Count",
                            "ansible.builtin.copy": {
                                "dest": str(tmp_path / "out.json"),
                                "mode": "0644",
                                "content": "{{ {'running': listing"
                                " | devops.scaling_lab.k8s_running_pods | map(attribute="
                                "'metadata.name') | list, 'ready_off_n1': listing"
                                " | devops.scaling_lab.k8s_ready_pods('n1') | length} | to_json }}",
                            },
                        }
                    ],
                }
            ]
        )
    )
    result = run_playbook(localhost_inventory(tmp_path / "inv"), str(playbook))
    assert result.returncode == 0, result.stdout + result.stderr
    out = json.loads((tmp_path / "out.json").read_text())
    assert out == {"running": ["a", "b", "c", "f"], "ready_off_n1": 1}
