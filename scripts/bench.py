"""Benchmarks of the lab substrate (issue targets), measured on this machine.

- cold: playbooks/lab.yml with no lab images present (base built from Debian packages or
  pulled, node image built, three nodes created) -- what `make up` does after bootstrap;
- warm: the same playbook again: its duration and changed count;
- idle node memory: per node, the RSS sum of its processes and the container's cgroup usage.

It uses its own image repositories (bench/base, bench/node), node names (bench-*) and
network (bench_lab_net), so it never touches a running lab, and removes them at the end.
Results: artifacts/bench/lab.json and a Markdown table on stdout.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
NODES = {"managers": ["bench-manager1"], "workers": ["bench-worker1", "bench-worker2"]}
REPOS = ["bench/base", "bench/node"]
SETTLE_S = 20


def inventory(directory: Path) -> Path:
    """Write the bench inventory (group_vars linked from the project)."""
    inv = {
        "all": {
            "hosts": {
                "localhost": {
                    "ansible_connection": "local",
                    "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                    "lab_nodes_network": "bench_lab_net",
                    "lab_images_base_repository": REPOS[0],
                    "lab_images_node_repository": REPOS[1],
                }
            },
            "children": {
                "swarm_cluster": {
                    "vars": {
                        "ansible_connection": "community.docker.docker",
                        "ansible_python_interpreter": "/usr/bin/python3",
                    },
                    "children": {
                        "swarm_managers": {"hosts": dict.fromkeys(NODES["managers"])},
                        "swarm_workers": {"hosts": dict.fromkeys(NODES["workers"])},
                    },
                }
            },
        }
    }
    (directory / "group_vars").symlink_to(ROOT / "inventory" / "group_vars")
    path = directory / "inventory.yml"
    path.write_text(yaml.safe_dump(inv))
    return path


def playbook(inv: Path, *extra: str) -> tuple[float, dict[str, int], str]:
    """Run playbooks/lab.yml; return its wall time, changed count per host and output."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    env["LAB_ARTIFACTS_DIR"] = str(inv.parent / "artifacts")
    exe = Path(sys.executable).parent / "ansible-playbook"
    start = time.monotonic()
    proc = subprocess.run(
        [str(exe), "-i", str(inv), "playbooks/lab.yml", *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-2000:])
        raise SystemExit(f"bench: playbooks/lab.yml {' '.join(extra)} failed")
    changed = {
        m.group(1): int(m.group(2))
        for m in re.finditer(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", proc.stdout, re.M)
    }
    return elapsed, changed, proc.stdout


def remove_images() -> None:
    """Remove every image of the bench repositories."""
    for repo in REPOS:
        ids = subprocess.run(
            ["docker", "images", "-q", repo], capture_output=True, text=True, check=True
        ).stdout.split()
        if ids:
            subprocess.run(["docker", "rmi", "-f", *set(ids)], capture_output=True, check=False)


def node_memory(name: str) -> dict[str, float]:
    """RSS sum of the node's processes and its cgroup memory usage, in MiB."""
    ps = subprocess.run(
        ["docker", "exec", name, "ps", "-eo", "rss="], capture_output=True, text=True, check=True
    ).stdout.split()
    stats = subprocess.run(
        ["docker", "stats", "--no-stream", "--format", "{{.MemUsage}}", name],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    usage = stats.split("/")[0].strip()
    value = float(re.sub(r"[^0-9.]", "", usage))
    unit = re.sub(r"[0-9.]", "", usage).strip()
    factor = {"B": 1 / 2**20, "KiB": 1 / 1024, "MiB": 1.0, "GiB": 1024.0}.get(unit, 1.0)
    return {
        "rss_mib": round(sum(int(k) for k in ps) / 1024, 1),
        "cgroup_mib": round(value * factor, 1),
    }


def main() -> int:
    out_dir = ROOT / "artifacts" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lab-bench.") as tmp:
        inv = inventory(Path(tmp))
        playbook(inv, "-e", "lab_state=absent")
        remove_images()
        try:
            print("bench: cold run of playbooks/lab.yml (no lab images) ...", flush=True)
            cold_s, cold_changed, _ = playbook(inv)
            print(f"bench: cold {cold_s:.1f} s; warm run ...", flush=True)
            warm_s, warm_changed, _ = playbook(inv)
            print(
                f"bench: warm {warm_s:.1f} s; letting the nodes idle {SETTLE_S} s ...", flush=True
            )
            time.sleep(SETTLE_S)
            memory = {n: node_memory(n) for n in NODES["managers"] + NODES["workers"]}
        finally:
            playbook(inv, "-e", "lab_state=absent")
            remove_images()
    result = {
        "cpus": os.cpu_count(),
        "cold_up_s": round(cold_s, 1),
        "cold_changed": cold_changed,
        "warm_rerun_s": round(warm_s, 1),
        "warm_changed": warm_changed,
        "idle_node_memory": memory,
        "targets": {
            "cold_up_s": 300,
            "warm_rerun_s": 60,
            "warm_changed": 0,
            "idle_node_rss_mib": 150,
        },
    }
    (out_dir / "lab.json").write_text(json.dumps(result, indent=2) + "\n")
    print("\n| measure | value | target |\n|---|---|---|")
    print(f"| cold `make up` (images + 3 nodes) | {cold_s:.1f} s | <= 300 s |")
    total = sum(warm_changed.values())
    print(f"| warm re-run of playbooks/lab.yml | {warm_s:.1f} s, changed={total} | <= 60 s, 0 |")
    for name, mem in memory.items():
        print(
            f"| idle node {name} | RSS {mem['rss_mib']} MiB (cgroup {mem['cgroup_mib']} MiB) "
            f"| <= 150 MiB |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
