"""Benchmarks of the lab (issue targets), measured on this machine.

`python scripts/bench.py lab` (the substrate):

- cold: playbooks/lab.yml with no lab images present (base built from Debian packages or
  pulled, node image built, three nodes created) -- what `make up` does after bootstrap;
- warm: the same playbook again: its duration and changed count;
- idle node memory: per node, the RSS sum of its processes and the container's cgroup usage.

It uses its own image repositories (bench/base, bench/node), node names (bench-*) and
network (bench_lab_net), so it never touches a running lab, and removes them at the end.
Results: artifacts/bench/lab.json and a Markdown table on stdout.

`python scripts/bench.py stack` (needs `make lab`: the counter stack on 127.0.0.1:8080):
- the counter endpoint `GET /` served directly on this host (gunicorn, 2 workers, + a real
  redis-server) and through the 4-replica Swarm stack, same load generator (wrk, 2 threads,
  50 connections), same run; the stack's share of the direct figure;
- idle memory of each app replica (RSS sum of its processes).
Results: artifacts/bench/stack.json and a Markdown table on stdout.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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


def bench_lab() -> int:
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


def free_port() -> int:
    """A free TCP port on the loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wrk(url: str, seconds: int) -> dict[str, float]:
    """Requests per second and mean latency that wrk measures against *url*."""
    out = subprocess.run(
        ["wrk", "-t2", "-c50", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": round(rps, 1), "non_2xx": int(non2xx.group(1)) if non2xx else 0}


def wait_http(url: str, timeout: float = 20.0) -> None:
    """Wait until *url* answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"bench: {url} did not answer within {timeout} s")


def replica_memory() -> dict[str, float]:
    """RSS (MiB) of every counter_app task, read inside its container on its node."""
    result: dict[str, float] = {}
    ps = subprocess.run(
        [
            "docker",
            "exec",
            "manager1",
            "docker",
            "service",
            "ps",
            "counter_app",
            "--filter",
            "desired-state=running",
            "--no-trunc",
            "--format",
            "{{.Node}} {{.Name}}.{{.ID}}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    script = (
        "import glob\n"
        "t=0\n"
        "for f in glob.glob('/proc/[0-9]*/status'):\n"
        "    try:\n"
        "        t+=int([l for l in open(f) if l.startswith('VmRSS')][0].split()[1])\n"
        "    except (OSError, IndexError):\n"
        "        pass\n"
        "print(t)"
    )
    for line in filter(None, ps):
        node, container = line.split()
        kib = subprocess.run(
            ["docker", "exec", node, "docker", "exec", container, "python3", "-c", script],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        result[container.rsplit(".", 1)[0]] = round(int(kib) / 1024, 1)
    return result


@contextmanager
def direct_app(workers: int = 2) -> Iterator[str]:
    """The counter app on this host: gunicorn (*workers* processes) + a real redis-server."""
    redis_port, app_port = free_port(), free_port()
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="lab-bench-direct.") as tmp:
        try:
            procs.append(
                subprocess.Popen(
                    [
                        *("redis-server", "--port", str(redis_port), "--bind", "127.0.0.1"),
                        *("--save", "", "--appendonly", "no", "--dir", tmp),
                    ],
                    stdout=subprocess.DEVNULL,
                )
            )
            env = dict(
                os.environ,
                REDIS_HOST="127.0.0.1",
                REDIS_PORT=str(redis_port),
                GUNICORN_BIND=f"127.0.0.1:{app_port}",
                GUNICORN_WORKERS=str(workers),
            )
            gunicorn = Path(sys.executable).parent / "gunicorn"
            procs.append(
                subprocess.Popen(
                    [str(gunicorn), "-c", "gunicorn.conf.py", "counter:create_app()"],
                    cwd=ROOT / "app",
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            url = f"http://127.0.0.1:{app_port}/"
            wait_http(url)
            yield url
        finally:
            for proc in reversed(procs):
                proc.terminate()
                proc.wait(timeout=10)


def bench_stack(seconds: int = 15) -> int:
    stack_url = "http://127.0.0.1:8080/"
    try:
        wait_http(stack_url, timeout=5)
    except SystemExit:
        print("bench: no counter stack on 127.0.0.1:8080; run `make lab` first")
        return 1
    out_dir = ROOT / "artifacts" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    with direct_app() as direct_url:
        print(f"bench: wrk {seconds} s against the app on this host ...", flush=True)
        direct = wrk(direct_url, seconds)
    print(f"bench: wrk {seconds} s against the 4-replica stack ...", flush=True)
    stack = wrk(stack_url, seconds)
    memory = replica_memory()
    share = round(100 * stack["rps"] / direct["rps"], 1)
    result = {
        "cpus": os.cpu_count(),
        "load": "wrk -t2 -c50, GET /",
        "seconds": seconds,
        "direct": direct,
        "stack": stack,
        "stack_share_pct": share,
        "idle_replica_rss_mib": memory,
        "targets": {"stack_share_pct": 75, "idle_replica_rss_mib": 100},
    }
    (out_dir / "stack.json").write_text(json.dumps(result, indent=2) + "\n")
    print("\n| measure | value | target |\n|---|---|---|")
    print(
        f"| `GET /` direct (gunicorn 2 workers + Redis on the host) | {direct['rps']} req/s | - |"
    )
    print(
        f"| `GET /` through the 4-replica stack (HAProxy edge, dnsrr) | {stack['rps']} req/s "
        f"({share} % of direct) | >= 75 % |"
    )
    for name, mib in memory.items():
        print(f"| idle app replica {name} | RSS {mib} MiB | <= 100 MiB |")
    return 0


def locust_run(url: str, out: Path, workers: int) -> dict[str, Any]:
    """``python -m loadtest run generator`` against *url*: RPS and generator CPU."""
    subprocess.run(
        [
            *(sys.executable, "-m", "loadtest", "run", "generator", "--host", url.rstrip("/")),
            *("--out", str(out), "--workers", str(workers)),
        ],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    sys.path.insert(0, str(ROOT))
    from loadtest import analysis

    summary = analysis.summarize_run(out, "generator")
    meta = json.loads((out / "run.json").read_text(encoding="utf-8"))
    return {
        "rps": round(summary.rps, 1),
        "requests": summary.requests,
        "failures": summary.failures,
        "workers": workers,
        "cpu_busiest_process_pct": round(meta["generator_cpu_pct"] or 0, 1),
        "cpu_total_pct": round(meta["generator_cpu_total_pct"] or 0, 1),
    }


def bench_generator(seconds: int = 15) -> int:
    """Locust (profile `generator`: 50 users, no think time, GET /) against wrk -c50."""
    out_dir = ROOT / "artifacts" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    with direct_app() as url, tempfile.TemporaryDirectory(prefix="lab-bench-locust.") as tmp:
        print(f"bench: wrk {seconds} s against the app on this host ...", flush=True)
        reference = wrk(url, seconds)
        runs = []
        for workers in (0, 2):
            label = f"{workers} workers" if workers else "one process"
            print(f"bench: locust ({label}) against the same app ...", flush=True)
            runs.append(locust_run(url, Path(tmp) / f"w{workers}", workers))
    best = max(runs, key=lambda run: run["rps"])
    share = round(100 * best["rps"] / reference["rps"], 1)
    result = {
        "cpus": os.cpu_count(),
        "endpoint": "GET / of the counter app on this host (gunicorn 2 workers + redis-server)",
        "wrk": reference | {"load": f"wrk -t2 -c50 -d{seconds}s"},
        "locust": runs,
        "locust_share_of_wrk_pct": share,
        "targets": {"locust_share_of_wrk_pct": 80},
    }
    (out_dir / "generator.json").write_text(json.dumps(result, indent=2) + "\n")
    print("\n| measure | value | target |\n|---|---|---|")
    print(f"| wrk -t2 -c50, `GET /` direct | {reference['rps']} req/s | - |")
    for run in runs:
        label = f"master + {run['workers']} workers" if run["workers"] else "one process"
        print(
            f"| locust {label}, 50 users, no think time | {run['rps']} req/s, CPU "
            f"{run['cpu_busiest_process_pct']} % busiest process, {run['cpu_total_pct']} % "
            f"in all | - |"
        )
    print(f"| locust best / wrk | {share} % | >= 80 % |")
    return 0


def bench_analysis() -> int:
    """Analysis of the lab's 60 s runs' CSVs and rendering of REPORT.md, timed."""
    runs_dir = ROOT / "artifacts" / "loadtest"
    names = [d.name for d in sorted(runs_dir.glob("*")) if (d / "locust_stats.csv").exists()]
    if not names:
        print("bench: no load-test runs in artifacts/loadtest; run `make lab` first")
        return 1
    out_dir = ROOT / "artifacts" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lab-bench-analyse.") as tmp:
        started = time.monotonic()
        subprocess.run(
            [sys.executable, "-m", "loadtest", "analyse", "--out", tmp]
            + [f"--run={name}={runs_dir / name}" for name in names],
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        analyse_s = time.monotonic() - started
    started = time.monotonic()
    subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "playbooks/report.yml"],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    render_s = time.monotonic() - started
    durations = {}
    for name in names:
        history = runs_dir / name / "locust_stats_history.csv"
        stamps = [line.split(",", 1)[0] for line in history.read_text().splitlines()[1:]]
        durations[name] = int(stamps[-1]) - int(stamps[0]) if stamps else 0
    result = {
        "runs": durations,
        "analyse_s": round(analyse_s, 2),
        "render_report_s": round(render_s, 2),
        "total_s": round(analyse_s + render_s, 2),
        "targets": {"total_s": 5},
    }
    (out_dir / "analysis.json").write_text(json.dumps(result, indent=2) + "\n")
    print("\n| measure | value | target |\n|---|---|---|")
    print(
        f"| analyse {', '.join(f'{n} ({s} s)' for n, s in durations.items())} "
        f"| {result['analyse_s']} s | - |"
    )
    print(
        f"| render artifacts/REPORT.md (playbooks/report.yml) | {result['render_report_s']} s | - |"
    )
    print(f"| both | {result['total_s']} s | < 5 s |")
    return 0


def main(argv: list[str]) -> int:
    what = argv[1] if len(argv) > 1 else "lab"
    if what == "lab":
        return bench_lab()
    if what == "stack":
        return bench_stack()
    if what == "generator":
        return bench_generator()
    if what == "analysis":
        return bench_analysis()
    raise SystemExit(f"usage: {argv[0]} lab|stack|generator|analysis")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
