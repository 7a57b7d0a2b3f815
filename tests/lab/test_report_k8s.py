"""The report's Kubernetes section, rendered by playbooks/report.yml from evidence.

Without k3s (this machine): k8s_diagnosis.yml writes the real diagnosis and k3s.json saying the
inventory has no k3s_cluster; the report shows the seed's findings, the fixed variant clean,
and "Not run" with that reason. With k3s (VMs only): the section reads k3s.json, k8s-drill.json
in the shape role k8s_app writes, and the Kubernetes plan's tables.md, here analysed for real by
the plan's analysis from recorded runs, with the Swarm run as its baseline."""

from __future__ import annotations

import json
from pathlib import Path

from labutil import localhost_inventory, run_playbook

from loadtest import plan as plan_module
from loadtest.pipeline import analyse

FIXTURES = Path(__file__).resolve().parents[1] / "loadtest" / "fixtures"


def local_inventory(directory: Path, with_k3s: bool) -> Path:
    k3s = {"k3s_servers": {"hosts": {"server1": {"ansible_host": "192.0.2.20"}}}}
    return localhost_inventory(directory, {"k3s_cluster": {"children": k3s}} if with_k3s else {})


def report_of(inventory: Path) -> str:
    artifacts = inventory.parent / "artifacts"
    for playbook in ("playbooks/k8s_diagnosis.yml", "playbooks/report.yml"):
        result = run_playbook(inventory, playbook)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    return (artifacts / "REPORT.md").read_text(encoding="utf-8")


def test_without_k3s_the_report_explains_the_seed_and_says_why_not_run(
    tmp_inventory_dir: Path,
) -> None:
    report = report_of(local_inventory(tmp_inventory_dir, with_k3s=False))
    evidence = tmp_inventory_dir / "artifacts" / "evidence"
    assert json.loads((evidence / "k3s.json").read_text()) == {
        "ran": False,
        "reason": "no_k3s_cluster",
    }
    diagnosis = json.loads((evidence / "k8s-diagnosis.json").read_text())
    seed, lab = diagnosis["variants"]
    assert (seed["dir"], lab["dir"]) == ("app/k8s/seed", "app/k8s/lab")
    assert lab["findings"] == []
    for finding in seed["findings"]:
        assert f"| `{finding['rule']}` | `{finding['object']}` | {finding['severity']} |" in report
    assert "`app/k8s/lab` (" in report and "objects): no findings." in report
    pull = "image-pull-never and image-localhost-registry alone mean no app pod ever starts"
    assert pull in report
    assert "_Not run_: the inventory has no `k3s_cluster` group." in report


def test_with_k3s_the_report_shows_the_drill_and_swarm_vs_kubernetes(
    tmp_inventory_dir: Path,
) -> None:
    inventory = local_inventory(tmp_inventory_dir, with_k3s=True)
    artifacts = tmp_inventory_dir / "artifacts"
    evidence = artifacts / "evidence"
    evidence.mkdir(parents=True)
    (evidence / "k3s.json").write_text(
        json.dumps(
            {
                "ran": True,
                "servers": ["server1"],
                "agents": ["agent1"],
                "nodes": ["server1", "agent1"],
                "kubelet_versions": ["v1.32.4+k3s1"],
                "images": ["192.0.2.10:5000/counter-app:latest"],
                "target": "http://192.0.2.20:30080",
            }
        )
    )
    phase = {"at": "2026-11-28T00:00:00Z", "epoch": 0.0}
    (evidence / "k8s-drill.json").write_text(
        json.dumps(
            {
                "drill_node": "agent1",
                "nodes": ["agent1", "server1"],
                "replicas": 4,
                "phases": {
                    "before": phase
                    | {"running": 4, "ready": 4, "per_node": {"agent1": 2, "server1": 2}},
                    "drained": phase | {"running": 4, "ready": 4, "per_node": {"server1": 4}},
                    "uncordoned": phase | {"running": 4, "ready": 4, "per_node": {"server1": 4}},
                },
                "outcome": {
                    "drain_emptied_node": True,
                    "drain_seconds": 12.5,
                    "completed": True,
                    "came_back_after_uncordon": False,
                },
            }
        )
    )
    out = artifacts / "loadtest-k8s"
    candidate = out / "k8s-4-replicas"
    candidate.mkdir(parents=True)
    for name in ("locust_stats.csv", "locust_stats_history.csv"):
        (candidate / name).write_bytes((FIXTURES / "four-replicas" / name).read_bytes())
    plan = plan_module.parse_plan(
        {
            "out": str(out),
            "target": "http://192.0.2.20:30080",
            "runs": [{"name": "k8s-4-replicas", "replicas": 4, "profile": "smoke"}],
            "baselines": [{"scenario": "swarm-4-replicas", "dir": str(FIXTURES / "one-replica")}],
            "compare": [["swarm-4-replicas", "k8s-4-replicas"]],
        }
    )
    analyse(plan_module.analysis_input(plan))

    report = report_of(inventory)
    assert not (evidence / "k3s.json").read_text().count('"no_k3s_cluster"')
    assert "The k3s cluster: servers server1, agents agent1" in report
    assert "| before | agent1: 2, server1: 2 | 4/4 |" in report
    assert "| drained | agent1: 0, server1: 4 | 4/4 |" in report
    assert "emptied node agent1 (yes) in 12.5 s" in report
    assert "did not come back on their own" in report
    assert "#### Comparison: swarm-4-replicas vs k8s-4-replicas" in report
    assert "_Not run_: the inventory has no" not in report


def test_a_one_node_cluster_has_no_drain_and_the_report_says_why(
    tmp_inventory_dir: Path,
) -> None:
    inventory = local_inventory(tmp_inventory_dir, with_k3s=True)
    evidence = tmp_inventory_dir / "artifacts" / "evidence"
    evidence.mkdir(parents=True)
    (evidence / "k3s.json").write_text(
        json.dumps(
            {
                "ran": True,
                "servers": ["server1"],
                "agents": [],
                "nodes": ["server1"],
                "kubelet_versions": ["v1.32.4+k3s1"],
                "images": [],
                "target": "http://192.0.2.20:30080",
            }
        )
    )
    (evidence / "k8s-drill.json").write_text(
        json.dumps({"ran": False, "reason": "one_schedulable_node", "nodes": ["server1"]})
    )
    report = report_of(inventory)
    assert "_Drain not run_: the cluster has one schedulable node (server1)" in report
    assert "| before |" not in report
