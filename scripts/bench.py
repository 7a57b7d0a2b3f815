"""Benchmarks of the lab (issue targets), measured on this machine (`make bench`).

`python scripts/bench.py lab` (the substrate):

- cold: playbooks/lab.yml with no lab images present (base built from Debian packages or
  pulled, node image built, three nodes created) -- what `make up` does after bootstrap;
- warm: the same playbook again: its duration and changed count;
- idle node memory: per node, the RSS sum of its processes and the container's cgroup usage.

It uses its own image repositories (bench/base, bench/node), node names (bench-*) and
network (bench_lab_net), so it never touches a running lab, and removes them at the end.

`python scripts/bench.py stack` (needs `make lab`: the counter stack on 127.0.0.1:8080):
the counter endpoint `GET /` served directly on this host (two one-worker gunicorn servers
sharing the port with SO_REUSEPORT, and a real redis-server) and through the 4-replica Swarm
stack (via the loopback port and at the manager's address), wrk (2 threads, 50 connections),
taking turns five times, the median of the per-round shares; idle memory of each app replica.

`python scripts/bench.py generator`: Locust (one process, and a master with 2 workers)
against wrk on the same endpoint (the app on this host as 1 and as 2 gunicorn servers),
medians of three rounds, with the generators' CPU.

`python scripts/bench.py analysis` (needs `make lab`): `python -m loadtest analyse` of the
lab's load-test runs and `playbooks/report.yml`, timed.

`python scripts/bench.py capacity` (needs `make lab`): loadtest.yml with the capacity profile
only (3 repetitions per scenario, interleaved), three times in a row: each scenario's capacity
per pass and max/min over the passes (target <= 1.15). The playbook archives the previous
results under artifacts/runs/ first.

`python scripts/bench.py probe-cost` (needs `make lab`): loadtest.yml with profile probe-cost (4
replicas, a steady 40 users without think time for 5 min) while the node sampling is paused and
resumed every 20 s (the probe's pause file on every node); each window's throughput from the
run's timeline against the mean of its two neighbours in the other state: the sampling's cost
in % of the throughput (target <= 3 %), and the samples taken in paused windows (0).

`python scripts/bench.py rerun` (rebuilds the user's lab: `make down` first): site.yml on fresh
nodes (lab images cached), site.yml again on the lab it made, playbooks/converge.yml a third
time (changed count per host), then each entry point with a bad variable (seconds until it is
refused, and whether anything under artifacts/ or in Docker changed).

Results: artifacts/bench/{lab,stack,generator,analysis,capacity,probe-cost,rerun}.json and
Markdown tables on stdout.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import resource
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
PROBE_DIR = "/var/lib/lab-loadtest-probe"  # the role's loadtest_probe_dir
PROBE_SWITCH_S = 20
PROBE_SETTLE_S = 4
GUNICORN_ARGS = ("-c", "gunicorn.conf.py", "--reuse-port", "counter:create_app()")


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
    elapsed, changed, out, rc = run_entry(
        "playbooks/lab.yml", "-i", str(inv), *extra, artifacts=inv.parent / "artifacts"
    )
    if rc != 0:
        sys.stderr.write(out[-6000:])
        raise SystemExit(f"bench: playbooks/lab.yml {' '.join(extra)} failed")
    return elapsed, changed, out


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
    """Requests per second that wrk (2 threads, 50 connections) measures against *url*,
    and the CPU wrk itself used (% of one core, from its rusage)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    out = subprocess.run(
        ["wrk", "-t2", "-c50", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": round(rps, 1),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "cpu_pct": round(100 * cpu_s / wall, 1),
    }


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
def direct_app(processes: int = 2) -> Iterator[str]:
    """The counter app on this host with a real redis-server: *processes* gunicorn servers
    of one worker each, sharing the port with SO_REUSEPORT so the kernel spreads connections
    over them. (One gunicorn with two workers is no baseline: the workers race to accept,
    and wrk's 50 keep-alive connections often land 50/0 or 47/3 on them, which halves the
    figure from one run to the next.)"""
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
                GUNICORN_WORKERS="1",
            )
            gunicorn = Path(sys.executable).parent / "gunicorn"
            for _ in range(processes):
                procs.append(
                    subprocess.Popen(
                        [
                            str(gunicorn),
                            "-c",
                            "gunicorn.conf.py",
                            "--reuse-port",
                            "counter:create_app()",
                        ],
                        cwd=ROOT / "app",
                        env=env,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
            url = f"http://127.0.0.1:{app_port}/"
            wait_http(url)
            time.sleep(1)  # every server listening before the load starts
            yield url
        finally:
            for proc in reversed(procs):
                proc.terminate()
                proc.wait(timeout=10)


def node_address(name: str) -> str | None:
    """The address of lab node container *name* on the lab network, if it runs here."""
    template = "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}"
    found = subprocess.run(
        ["docker", "inspect", "-f", template, name],
        capture_output=True,
        text=True,
    )
    addresses = found.stdout.split()
    return addresses[0] if found.returncode == 0 and addresses else None


def bench_stack(seconds: int = 15, rounds: int = 5) -> int:
    """wrk against the counter app on this host and through the 4-replica stack, taking
    turns `rounds` times (medians reported): the stack through the loopback port published
    by the manager's container (what the controller uses; Docker's userland proxy copies
    every byte) and at the manager's address on the lab network (what a client of the
    swarm's nodes sees)."""
    stack_url = "http://127.0.0.1:8080/"
    try:
        wait_http(stack_url, timeout=5)
    except SystemExit:
        print("bench: no counter stack on 127.0.0.1:8080; run `make lab` first")
        return 1
    out_dir = ROOT / "artifacts" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    targets = {"stack via 127.0.0.1:8080": stack_url}
    address = node_address("manager1")
    if address:
        targets[f"stack via manager1 {address}:80"] = f"http://{address}:80/"
    samples: dict[str, list[float]] = {"direct": []} | {name: [] for name in targets}
    for round_no in range(1, rounds + 1):
        print(f"bench: round {round_no}/{rounds}: wrk {seconds} s per target ...", flush=True)
        with direct_app() as direct_url:
            samples["direct"].append(wrk(direct_url, seconds)["rps"])
        for name, url in targets.items():
            samples[name].append(wrk(url, seconds)["rps"])
    medians = {name: round(_median(values), 1) for name, values in samples.items()}
    # The VM's speed drifts from minute to minute: each round's stack figure is compared with
    # that round's direct figure, and the share reported is the median of those ratios.
    round_shares = {
        name: [
            round(100 * stack / direct, 1)
            for stack, direct in zip(samples[name], samples["direct"], strict=True)
        ]
        for name in targets
    }
    shares = {name: round(_median(values), 1) for name, values in round_shares.items()}
    memory = replica_memory()
    result = {
        "cpus": os.cpu_count(),
        "load": f"wrk -t2 -c50 -d{seconds}s, GET /",
        "rounds": rounds,
        "rps_all_rounds": samples,
        "rps_median": medians,
        "stack_share_pct_per_round": round_shares,
        "stack_share_pct": shares,
        "idle_replica_rss_mib": memory,
        "targets": {"stack_share_pct": 75, "idle_replica_rss_mib": 100},
    }
    (out_dir / "stack.json").write_text(json.dumps(result, indent=2) + "\n")
    print("\n| measure | req/s, median (all rounds) | share of direct, median (rounds) | target |")
    print("|---|---|---|---|")
    for name, values in samples.items():
        label = "direct (2 gunicorn servers, SO_REUSEPORT, + Redis)" if name == "direct" else name
        share = "-"
        if name in shares:
            share = f"{shares[name]} % ({', '.join(f'{v:.0f}' for v in round_shares[name])})"
        target = ">= 75 %" if name in shares else "-"
        all_rounds = ", ".join(f"{value:.0f}" for value in values)
        print(f"| `GET /` {label} | {medians[name]} ({all_rounds}) | {share} | {target} |")
    for name, mib in memory.items():
        print(f"| idle app replica {name} | RSS {mib} MiB | - | <= 100 MiB |")
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


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def bench_generator(seconds: int = 15, rounds: int = 3) -> int:
    """Locust (profile `generator`: 50 users, no think time, GET /) against wrk -c50, on the
    counter app on this host, as 1 gunicorn server (it leaves a core to the load generator)
    and as 2 (server and generator share both cores). The generators
    take turns, `rounds` times over (this 2-core VM is noisy); medians are reported."""
    out_dir = ROOT / "artifacts" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    generators = ("wrk", "locust", "locust-2-workers")
    samples: dict[int, dict[str, list[dict[str, Any]]]] = {
        app: {name: [] for name in generators} for app in (1, 2)
    }
    for round_no in range(1, rounds + 1):
        for app in (1, 2):
            with (
                direct_app(processes=app) as url,
                tempfile.TemporaryDirectory(prefix="lab-bench-locust.") as tmp,
            ):
                print(
                    f"bench: round {round_no}/{rounds}, app as {app} gunicorn server(s)", flush=True
                )
                samples[app]["wrk"].append(wrk(url, seconds))
                samples[app]["locust"].append(locust_run(url, Path(tmp) / "w0", 0))
                samples[app]["locust-2-workers"].append(locust_run(url, Path(tmp) / "w2", 2))
    cases = []
    for app, by_generator in samples.items():
        medians = {
            name: {
                "rps": round(_median([run["rps"] for run in runs]), 1),
                "rps_all": [run["rps"] for run in runs],
                "cpu_pct": round(
                    _median([run.get("cpu_pct", run.get("cpu_total_pct", 0.0)) for run in runs]), 1
                ),
            }
            for name, runs in by_generator.items()
        }
        for name in generators[1:]:
            medians[name]["share_of_wrk_pct"] = round(
                100 * medians[name]["rps"] / medians["wrk"]["rps"], 1
            )
        cases.append({"app_processes": app, "generators": medians})
    result = {
        "cpus": os.cpu_count(),
        "endpoint": "GET / of the counter app on this host (gunicorn + redis-server)",
        "load": f"wrk -t2 -c50 -d{seconds}s; locust profile `generator` (50 users, no think)",
        "rounds": rounds,
        "cases": cases,
        "targets": {"share_of_wrk_pct": 80},
    }
    (out_dir / "generator.json").write_text(json.dumps(result, indent=2) + "\n")
    print(
        "\n| app (gunicorn servers) | generator | req/s, median (all rounds) | generator CPU "
        "| share of wrk |"
    )
    print("|---|---|---|---|---|")
    for case in cases:
        for name, numbers in case["generators"].items():
            rounds_text = ", ".join(f"{rps:.0f}" for rps in numbers["rps_all"])
            share = f"{numbers['share_of_wrk_pct']} %" if "share_of_wrk_pct" in numbers else "-"
            print(
                f"| {case['app_processes']} | {name} | {numbers['rps']} ({rounds_text}) | "
                f"{numbers['cpu_pct']} % | {share} |"
            )
    return 0


def bench_analysis() -> int:
    """Analysis of the lab's load test (its plan's runs) and rendering of REPORT.md, timed."""
    from loadtest import pipeline
    from loadtest.plan import analysis_input, read_plan

    plan_file = ROOT / "artifacts" / "loadtest" / "plan.json"
    if not plan_file.exists():
        print("bench: no load-test plan in artifacts/loadtest; run `make lab` first")
        return 1
    plan = read_plan(plan_file)
    out_dir = ROOT / "artifacts" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lab-bench-analyse.") as tmp:
        # The plan's own analysis, written elsewhere than the lab's artifacts.
        spec = dataclasses.replace(analysis_input(plan), out=Path(tmp))
        started = time.monotonic()
        pipeline.analyse(spec)
        analyse_s = time.monotonic() - started
    started = time.monotonic()
    subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "playbooks/report.yml"],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    render_s = time.monotonic() - started
    result = {
        "runs": [run.name for run in plan.runs],
        "analyse_s": round(analyse_s, 2),
        "render_report_s": round(render_s, 2),
        "total_s": round(analyse_s + render_s, 2),
        "targets": {"total_s": 5},
    }
    (out_dir / "analysis.json").write_text(json.dumps(result, indent=2) + "\n")
    print("\n| measure | value | target |\n|---|---|---|")
    print(f"| analyse {len(plan.runs)} runs | {result['analyse_s']} s | - |")
    print(
        f"| render artifacts/REPORT.md (playbooks/report.yml) | {result['render_report_s']} s | - |"
    )
    print(f"| both | {result['total_s']} s | < 5 s |")
    return 0


def capacity_pass(*extra: str) -> dict[str, Any]:
    """loadtest.yml with the capacity profile only (the role's repetitions, interleaved):
    each scenario's capacity, its repetitions' spread and the scaling ratio."""
    started = time.monotonic()
    subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "loadtest.yml"]
        + ["-e", "loadtest_profile="]
        + [arg for item in extra for arg in ("-e", item)],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    wall = time.monotonic() - started
    summary = json.loads((ROOT / "artifacts" / "loadtest" / "summary.json").read_text())
    return {
        "wall_s": round(wall, 1),
        "capacity": {
            item["name"]: {
                "rps": item["capacity_rps"],
                "users": (item["best"] or {}).get("users"),
                "per_repetition": item["per_repetition_rps"],
            }
            for item in summary["capacity"]
        },
        "scaling": summary.get("scaling", []),
        "saturated": [
            {"run": item.get("run"), "line": item.get("line")}
            for item in summary.get("saturated", [])
        ],
    }


def cpu_yardstick(rounds: int = 3) -> float:
    """This machine's speed right now: a fixed pure-Python loop on one core, the best of
    *rounds*, in million iterations per second (a yardstick between capacity passes)."""
    best = math.inf
    for _ in range(rounds):
        started = time.perf_counter()
        total = 0
        for number in range(3_000_000):
            total += number & 7
        best = min(best, time.perf_counter() - started)
    return round(3.0 / best, 2)


def bench_capacity(passes: int = 3) -> int:
    """The capacity profile (3 interleaved repetitions per scenario) run `passes` times in a
    row on the lab: max/min of each scenario's capacity over the passes (target <= 1.15), with
    the machine's single-core speed measured before and after each pass."""
    if not (ROOT / "artifacts" / "loadtest").exists():
        print("bench: run `make lab` first")
        return 1
    results = []
    for index in range(passes):
        before = cpu_yardstick()
        results.append(capacity_pass())
        results[-1]["yardstick_mips"] = [before, cpu_yardstick()]
        print(
            f"pass {index + 1}/{passes}: {json.dumps(results[-1]['capacity'])}, "
            f"yardstick {results[-1]['yardstick_mips']} M/s",
            flush=True,
        )
    names = list(results[0]["capacity"])
    spread = {}
    for name in names:
        values = [r["capacity"][name]["rps"] for r in results]
        known = [v for v in values if v]
        spread[name] = {
            "capacity_rps": values,
            "max_over_min": round(max(known) / min(known), 3)
            if len(known) == len(values)
            else None,
        }
    result = {"passes": results, "spread": spread, "targets": {"max_over_min": 1.15}}
    out_dir = ROOT / "artifacts" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "capacity.json").write_text(json.dumps(result, indent=2) + "\n")
    print("\n| scenario | capacity per pass, req/s | max/min | target |\n|---|---|---|---|")
    for name, item in spread.items():
        values = ", ".join(f"{v:.0f}" if v else "none" for v in item["capacity_rps"])
        print(f"| {name} | {values} | {item['max_over_min']} | <= 1.15 |")
    yardsticks = "; ".join(
        f"pass {index + 1}: {r['yardstick_mips'][0]} / {r['yardstick_mips'][1]}"
        for index, r in enumerate(results)
    )
    print(f"\nsingle-core yardstick before / after each pass, M iterations/s: {yardsticks}")
    return 0


def lab_node_names() -> list[str]:
    """The lab's node containers (inventory/local.yml's swarm_cluster hosts)."""
    data = yaml.safe_load((ROOT / "inventory" / "local.yml").read_text())
    groups = data["all"]["children"]["swarm_cluster"]["children"]
    return [name for group in groups.values() for name in group.get("hosts") or {}]


def probe_started(node: str, since: float) -> bool:
    """Whether a node probe started on *node* after *since* (the first line of its file)."""
    out = subprocess.run(
        ["docker", "exec", node, "sh", "-c", f"head -qn1 {PROBE_DIR}/node-*.jsonl 2>/dev/null"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    for line in out.splitlines():
        try:
            if float(json.loads(line).get("t", 0)) > since:
                return True
        except ValueError:
            continue
    return False


def pause_probe(nodes: list[str], paused: bool) -> None:
    """Create (pause) or remove (resume) the probe's pause file on every node."""
    command = ["touch"] if paused else ["rm", "-f"]
    for node in nodes:
        subprocess.run(["docker", "exec", node, *command, f"{PROBE_DIR}/pause"], check=True)


def samples_in(paths: list[Path], begin: int, end: int) -> int:
    """Samples the probes took in the whole seconds begin <= t < end."""
    count = 0
    for path in paths:
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if record.get("kind") == "probe" and begin <= record["t"] < end:
                count += 1
    return count


def bench_probe_cost() -> int:
    """The cost of sampling the nodes: profile probe-cost (a steady load near the 4-replica
    capacity, 5 min) while the probe is paused and resumed every PROBE_SWITCH_S s; each
    window's throughput (exact, from the run's timeline; its first PROBE_SETTLE_S s left out)
    against the mean of its two neighbours in the other state. Target: <= 3 %."""
    sys.path.insert(0, str(ROOT))
    from loadtest import timeline as tl

    if not (ROOT / "artifacts" / "loadtest").exists():
        print("bench: run `make lab` first")
        return 1
    nodes = lab_node_names()
    scenario = json.dumps({"loadtest_scenarios": [{"name": "swarm-4-replicas", "replicas": 4}]})
    started = time.time()
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "loadtest.yml",
            *("-e", "loadtest_profile=probe-cost", "-e", "loadtest_capacity_profile="),
            *("-e", scenario),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    switches: list[tuple[float, bool]] = []
    try:
        while proc.poll() is None and not probe_started(nodes[0], started):
            time.sleep(1)
        switches.append((time.time(), True))
        while proc.poll() is None:
            next_switch = switches[-1][0] + PROBE_SWITCH_S
            while proc.poll() is None and time.time() < next_switch:
                time.sleep(0.2)
            if proc.poll() is None:
                on = not switches[-1][1]
                pause_probe(nodes, not on)
                switches.append((time.time(), on))
    finally:
        if proc.poll() is None:
            proc.wait()
        pause_probe(nodes, False)
    if proc.returncode != 0:
        print(f"bench: loadtest.yml failed (exit {proc.returncode})")
        return 1
    loadtest_dir = ROOT / "artifacts" / "loadtest"
    timeline = tl.read_timeline(loadtest_dir / "swarm-4-replicas")
    if timeline is None:
        print("bench: the run wrote no timeline")
        return 1
    windows = tl.state_windows(timeline, switches, settle_s=PROBE_SETTLE_S, lead_s=10)
    estimates = tl.switched_cost(windows)
    samples = sorted((loadtest_dir / "samples").glob("node-*.jsonl"))
    rows = [
        {
            "probe": "on" if window.on else "off",
            "start": window.totals.start,
            "seconds": window.totals.seconds,
            "rps": round(window.totals.rps, 1),
            "node_samples": samples_in(samples, window.totals.start, window.totals.end),
        }
        for window in windows
    ]
    on_rps = [row["rps"] for row in rows if row["probe"] == "on"]
    off_rps = [row["rps"] for row in rows if row["probe"] == "off"]
    result = {
        "windows": rows,
        "estimates_pct": [round(value, 2) for value in estimates],
        "cost_pct": round(_median(estimates), 2) if estimates else None,
        "cost_min_pct": round(min(estimates), 2) if estimates else None,
        "cost_max_pct": round(max(estimates), 2) if estimates else None,
        "median_on_rps": _median(on_rps) if on_rps else None,
        "median_off_rps": _median(off_rps) if off_rps else None,
        # the pause is real: no node sample in an "off" window
        "samples_while_paused": sum(r["node_samples"] for r in rows if r["probe"] == "off"),
        "targets": {"cost_pct": 3},
    }
    out_dir = ROOT / "artifacts" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "probe-cost.json").write_text(json.dumps(result, indent=2) + "\n")
    print("\n| probe | start | s | req/s | node samples |\n|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['probe']} | {row['start']} | {row['seconds']} | {row['rps']} "
              f"| {row['node_samples']} |")  # fmt: skip
    print("\n| measure | with probe | without | cost (median; min-max) | target |")
    print("|---|---|---|---|---|")
    print(
        f"| 4-replica throughput at 40 users, median of {len(on_rps)} / {len(off_rps)} windows, "
        f"req/s | {result['median_on_rps']} | {result['median_off_rps']} | "
        f"{result['cost_pct']} % ({result['cost_min_pct']} to {result['cost_max_pct']}; "
        f"{len(estimates)} estimates) | <= 3 % |"
    )
    return 0


def run_entry(
    playbook_path: str, *extra: str, artifacts: Path | None = None
) -> tuple[float, dict[str, int], str, int]:
    """Run a playbook (default inventory unless -i is in *extra*); time, changed per host,
    output and exit code."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    if artifacts is not None:
        env["LAB_ARTIFACTS_DIR"] = str(artifacts)
    exe = Path(sys.executable).parent / "ansible-playbook"
    start = time.monotonic()
    proc = subprocess.run(
        [str(exe), playbook_path, *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.monotonic() - start
    changed = {
        m.group(1): int(m.group(2))
        for m in re.finditer(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", proc.stdout, re.M)
    }
    return elapsed, changed, proc.stdout + proc.stderr, proc.returncode


def snapshot() -> dict[str, Any]:
    """Files under artifacts/ (path and mtime) and the engine's containers, volumes, networks."""
    files = {
        str(p.relative_to(ROOT)): p.stat().st_mtime
        for p in (ROOT / "artifacts").rglob("*")
        if p.is_file() and "bench" not in p.parts
    }
    docker = {}
    for kind, cmd in {
        "containers": ["docker", "ps", "-a", "--format", "{{.Names}} {{.State}}"],
        "volumes": ["docker", "volume", "ls", "-q"],
        "networks": ["docker", "network", "ls", "--format", "{{.Name}}"],
    }.items():
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        docker[kind] = sorted(out.split("\n"))
    return {"files": files, "docker": docker}


def bench_rerun() -> int:
    """First and second site.yml, converge changed count, bad-input refusal times."""
    down = run_entry("playbooks/lab.yml", "-e", "lab_state=absent")
    if down[3] != 0:
        raise SystemExit("bench: make down failed:\n" + down[2][-3000:])
    result: dict[str, Any] = {}
    for label in ("first", "second"):
        elapsed, changed, out, rc = run_entry("site.yml")
        if rc != 0:
            raise SystemExit(f"bench: {label} site.yml failed:\n" + out[-4000:])
        result[f"site_{label}_s"] = round(elapsed, 1)
        result[f"site_{label}_changed"] = changed
    elapsed, changed, out, rc = run_entry("playbooks/converge.yml")
    if rc != 0:
        raise SystemExit("bench: converge.yml failed:\n" + out[-4000:])
    result["converge_again_s"] = round(elapsed, 1)
    result["converge_again_changed"] = changed
    result["second_over_first"] = round(result["site_second_s"] / result["site_first_s"], 3)
    bad = {
        "site.yml": "registry_mode=bogus",
        "drain-demo.yml": "drill_rebalance=shuffle",
        "loadtest.yml": "loadtest_runner=cloud",
        "playbooks/converge.yml": "swarm_node_availability=off",
    }
    result["bad_input"] = {}
    for entry, var in bad.items():
        before = snapshot()
        elapsed, _, out, rc = run_entry(entry, "-e", var)
        result["bad_input"][entry] = {
            "variable": var,
            "refused": rc != 0 and var.split("=")[0] in out,
            "seconds": round(elapsed, 2),
            "unchanged": snapshot() == before,
        }
    out_dir = ROOT / "artifacts" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "rerun.json").write_text(json.dumps(result, indent=2) + "\n")
    print("| Measure | Measured | Target |\n|---|---|---|")
    print(f"| site.yml, fresh nodes (images cached) | {result['site_first_s']} s | - |")
    print(
        f"| site.yml again on that lab | {result['site_second_s']} s "
        f"({result['second_over_first']:.0%} of the first) | <= 60 % |"
    )
    print(
        f"| converge.yml a third time | changed {result['converge_again_changed']} "
        f"in {result['converge_again_s']} s | changed=0 |"
    )
    for entry, row in result["bad_input"].items():
        print(
            f"| {entry} -e {row['variable']} | refused {row['refused']} in {row['seconds']} s, "
            f"nothing changed {row['unchanged']} | <= 15 s, unchanged |"
        )
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
    if what == "rerun":
        return bench_rerun()
    if what == "capacity":
        return bench_capacity()
    if what == "probe-cost":
        return bench_probe_cost()
    raise SystemExit(f"usage: {argv[0]} lab|stack|generator|analysis|rerun|capacity|probe-cost")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
